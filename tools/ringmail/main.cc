// ringmail: the daemon. Subcommands: serve.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "tools/ringmail/serve.h"

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "ringmail: an SMTP/LMTP/IMAP/POP3 mail server with built-in spam scanning.\n"
      "usage: ringmail serve [--data_dir=DIR] [--shards=N] [flags]   (--helpfull lists every flag)");
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) {
    std::fprintf(stderr, "%s\n", absl::ProgramUsageMessage().data());
    return 2;
  }
  std::string command = args[1];
  if (command == "serve") return ringmail::tools::serve();
  std::fprintf(stderr, "ringmail: unknown command '%s'\n%s\n", command.c_str(), absl::ProgramUsageMessage().data());
  return 2;
}
