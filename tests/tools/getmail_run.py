"""Runs Debian's getmail (getmail6) with one fix to how it waits for its delivery child,
for pop3_fetchers_test.sh. Run it with getmail's own interpreter (the #! line of
`command -v getmail`): getmail_run.py GETMAIL_SCRIPT ARGS...

Why: getmail6 up to at least 6.19 forks the Maildir/MDA child first and installs its
SIGCHLD handler afterwards (getmailcore/baseclasses.py ForkingBase.forkchild then
_prepare_child). A child that exits before the handler is in place is never seen; the
parent then waits on a condition nobody signals until the retriever timeout (180 s) and
stops with "waiting child pid N timed out" (getmail6 issues #52 and #226). On a loaded
two-core machine that hit about one message in 150 of a 1,000-message run, against Dovecot
as much as against ringmail. Here _wait_for_child also polls waitpid(WNOHANG), so a child
that exited early is reaped; the message, the delivery and the POP3 dialogue are
getmail's own, unchanged. Without ForkingBase (another getmail), getmail runs as it is.
"""

import os
import runpy
import signal
import sys
import time

try:
    from getmailcore import baseclasses
    from getmailcore.exceptions import getmailOperationError
except ImportError:
    baseclasses = None


def _wait_for_child(self, childpid):
    cond = self._ForkingBase__child_exited
    deadline = time.monotonic() + 600
    with cond:
        # The handler may have reaped it already (it sets __child_status); if not, reap it here.
        while self._ForkingBase__child_status is None:
            try:
                pid, status = os.waitpid(childpid, os.WNOHANG)
            except ChildProcessError:
                pid = 0
            if pid == childpid:
                signal.signal(signal.SIGCHLD, self._ForkingBase__orig_handler)
                self._ForkingBase__child_pid = pid
                self._ForkingBase__child_status = status
                break
            if time.monotonic() > deadline:
                raise getmailOperationError("waiting child pid %d timed out" % childpid)
            cond.wait(0.02)
    status = self._ForkingBase__child_status
    if os.WIFSIGNALED(status):
        raise getmailOperationError("child pid %d killed by signal %d" % (childpid, os.WTERMSIG(status)))
    if not os.WIFEXITED(status):
        raise getmailOperationError("child pid %d failed to exit" % childpid)
    return os.WEXITSTATUS(status)


if baseclasses is not None and hasattr(baseclasses, "ForkingBase") and \
        hasattr(baseclasses.ForkingBase, "_wait_for_child"):
    baseclasses.ForkingBase._wait_for_child = _wait_for_child

script = sys.argv[1]
sys.argv = [script] + sys.argv[2:]
runpy.run_path(script, run_name="__main__")
