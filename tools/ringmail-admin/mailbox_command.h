// `ringmail-admin mailbox …`, `fetch`, `flags` and `expunge`: the mail store from the
// command line, through the same delivery/mailstore code the server runs (one shard of
// our own). The store's per-mailbox lock (mailbox.h "ONE PROCESS AT A TIME") keeps a
// command from writing an index the running server holds: it says so and exits 1.
//
//   mailbox list USER                       folder names, one per line (UTF-8)
//   mailbox status USER FOLDER              messages= unseen= uidnext= uidvalidity=
//                                           highestmodseq= vsize=  (doveadm mailbox status)
//   mailbox create|delete USER FOLDER
//   mailbox rename USER FOLDER NEWNAME
//   mailbox subscribe|unsubscribe USER FOLDER | mailbox subscriptions USER
//   mailbox rebuild USER [FOLDER]           index from the files, UIDs kept (all folders
//                                           when FOLDER is left out)
//   fetch USER FOLDER                       uid= flags=(…) size= subject= per message
//   flags USER FOLDER UIDS +|-|=FLAG[,FLAG]  e.g. flags a@b INBOX 1,4:6 +\Seen,$Work
//   expunge USER FOLDER [UIDS]              UIDS, or every \Deleted message
#pragma once

#include <string>
#include <vector>

#include "delivery/directory/store.h"

namespace ringmail::tools {

// Exit code: 0 done, 1 failed (message on stderr), 2 usage error.
int mailbox_command(directory::store& directory, const std::string& mail_root, const std::string& command,
                    const std::vector<std::string>& args);

}  // namespace ringmail::tools
