// Argument parsers of GETMETADATA, SETMETADATA (RFC 5464 section 5) and NOTIFY (RFC 5465
// section 8), called from command_parser.cc's command table. Internal to protocols/imap.
#pragma once

#include "protocols/imap/parser_cursor.h"

namespace ringmail::imap::detail {

// metadata_parser.cc
bool parse_getmetadata_args(cursor& c, command& cmd);
bool parse_setmetadata_args(cursor& c, command& cmd);
// notify_parser.cc
bool parse_notify_args(cursor& c, command& cmd);

}  // namespace ringmail::imap::detail
