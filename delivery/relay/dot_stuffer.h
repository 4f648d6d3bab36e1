// dot_stuffer: turns a message into the DATA payload (RFC 5321 section 4.5.2), a piece at a
// time, so the relay streams a queued message from its buffer without a second whole copy.
//
// RFC 5321 4.5.2: "Before sending a line of mail text, the SMTP client checks the first
// character of the line. If it is a period, one additional period is inserted at the
// beginning of the line." The payload ends with CRLF "." CRLF (section 4.1.1.4).
//
// Departures: a bare LF or bare CR in the input becomes CRLF (RFC 5321 section 2.3.8
// forbids sending them bare; the queue stores what clients sent, which may use LF), and a
// message not ending in a line break gets one before the final dot. A CR at the end of
// one piece followed by LF at the start of the next is one CRLF, so the output does not
// depend on how the input is split.
#pragma once

#include <string>
#include <string_view>

namespace ringmail::relay {

class dot_stuffer {
 public:
  // Appends the stuffed form of `in` (the next piece of the message) to `out`.
  void append(std::string_view in, std::string& out);
  // Appends the end of the payload: a line break if the message did not end in one,
  // then ".\r\n". The stuffer is then ready for the next message.
  void finish(std::string& out);

 private:
  bool at_line_start_ = true;
  bool pending_cr_ = false;  // the previous piece ended in CR (LF may follow)
};

// The whole payload at once, for tests and small messages.
std::string dot_stuff(std::string_view message);

}  // namespace ringmail::relay
