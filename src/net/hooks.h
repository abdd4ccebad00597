// The syscall hooks' internal interface (hooks.cpp interposes libc; fd_table.cpp keeps the
// per-fd records the interposers consult). Nothing here is public API: API.md promises only
// that plain POSIX calls inside fibers park the fiber instead of blocking its P.
#pragma once

#include <sys/types.h>

namespace go::detail::hooks {

// libc's own close/fcntl/epoll_create1 (the next definition after ours, found with
// dlsym(RTLD_NEXT)), for code that must not go through our interposers: the records'
// bookkeeping and the private epoll instances of fd_table.cpp (which need no record). fcntl's third
// argument is passed as a long, which is what libc reads for every command that takes an int or a
// pointer (x86-64 and AArch64 ABIs). Any thread.
int real_close(int fd);
int real_fcntl(int fd, int cmd, long arg);
int real_epoll_create1(int flags);

// True when every hook passes straight through to libc: in a child created by fork() (it
// shares the parent's netpoller epoll instance, an epoll set being one kernel object inherited
// like any fd, so touching it would change the parent's registrations), and in a process
// started with GOCXX_HOOKS=0 (to tell whether a problem comes from the hooks). Any thread.
bool hooks_disabled();

}  // namespace go::detail::hooks

// Defined in hooks.cpp and referenced from go::run (src/sched/runtime.cpp), so that linking
// the static library pulls the interposers in even into a program that never names read(),
// poll() and friends itself (its libcurl does). See hooks.cpp.
extern "C" const int gocxx_hooks_linked;
