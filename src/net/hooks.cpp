// Syscall hooks: plain POSIX calls made inside a fiber park the fiber instead of blocking its P.
//
// The problem. Unmodified blocking code (libcurl, libpq, hiredis, a hand-written client) calls
// read(), connect(), poll(), sleep() and friends on blocking fds. Inside a fiber each such call
// would block the fiber's M, and with it its P and every fiber queued there: 200 clients each
// waiting 100 ms for a reply would take 20 s on one P instead of 100 ms. The same calls made
// outside fibers (plain threads, go::blocking's pool, code before go::run) must behave exactly
// as libc's. And the user-visible semantics must stay POSIX's: an fd the user made non-blocking
// returns EAGAIN and never parks, SO_RCVTIMEO gives EAGAIN after its time, close() of an fd
// another fiber waits on wakes that fiber, errno values are the kernel's.
//
// The approach.
//  * Interposition by definition. This file defines read, write, poll, ... with C linkage. A
//    definition in the executable (static libgocxx) or in libgocxx.so, which is loaded before
//    libc, comes first in the dynamic linker's search order, so every call to these names
//    reaches us: the program's own, libcurl's, libstdc++'s (std::this_thread::sleep_for). The
//    real function is the next definition, dlsym(RTLD_NEXT, name): libc's, or a sanitizer's
//    interceptor that calls libc's. With the static library the linker takes this object only
//    if something references it, hence `gocxx_hooks_linked`, referenced from go::run.
//  * Sanitizers. ASan and TSan interpose many of these functions themselves. Our definition
//    still comes first (the executable, or libgocxx.so resolved before the sanitizer runtime's
//    RTLD_NEXT lookups reach libc) and dlsym(RTLD_NEXT) finds the sanitizer's interceptor, so
//    both layers run; no hook is switched off in sanitizer builds.
//  * Resolution. Each real function is resolved once (a constructor of priority 101 resolves
//    them all before main; a call that comes even earlier resolves its own). Threads racing to
//    resolve store the same pointer. dlsym may allocate, and an allocator may call read() while
//    initialising (tcmalloc reads /proc): a thread-local flag detects that recursion, and such
//    a nested call uses the raw syscall instead of waiting for a resolution that cannot finish.
//  * Outside fibers (current_g() == nullptr) every hook calls the real function right away: a
//    call that reads a thread-local, and a compare, more than libc; no extra syscall. Bookkeeping
//    that must see every fd (socket() recording what it created, close() forgetting it) also runs
//    there.
//  * Inside a fiber, an fd's record (fd_table.h) says what to do. Sockets, pipes and eventfds
//    are managed; the user's view of O_NONBLOCK is kept in the record, apart from the real flag.
//    The first time a fiber uses a managed fd that the user considers blocking, the fd gets a
//    PollDesc and the real O_NONBLOCK (fd_prepare). From then on a hooked call tries the real
//    syscall; on EAGAIN it waits in the netpoller (SO_RCVTIMEO/SO_SNDTIMEO as the deadline:
//    EAGAIN on expiry, as POSIX says; no invented timeout otherwise) and retries. A write on a
//    blocking-view fd loops over partial writes until everything is written, as a blocking
//    write does. connect() becomes a non-blocking connect, a wait for writability and
//    SO_ERROR. An fd the user made non-blocking (SOCK_NONBLOCK, accept4 flags, fcntl, FIONBIO,
//    MSG_DONTWAIT) is passed through: EAGAIN comes back at once.
//  * A plain thread that calls a hooked function on an fd a fiber has prepared gets the
//    blocking behaviour it expects: the real call returns EAGAIN, the record says the user sees
//    a blocking fd, so the hook waits in poll(2) (with the record's timeout) and retries. That
//    is checked only after EAGAIN, so a thread never pays for it otherwise.
//  * poll, select, epoll_wait (and ppoll, pselect, epoll_pwait, epoll_pwait2) in a fiber: the
//    real call with a zero timeout first; if nothing is ready, the fiber parks and the real
//    call with a zero timeout gives the result after each wake-up. poll() on up to 8 managed
//    fds that no other fiber waits on parks on their own PollDescs at once (poll_wait_any: no
//    syscall of its own); everything else goes into a private epoll instance (TempPoll) that
//    is itself registered with the netpoller (an epoll fd is pollable), with the call's
//    timeout as its deadline. For epoll_wait the user's epoll fd is registered directly (it
//    gets a record and a PollDesc like a socket).
//  * sleep, usleep, nanosleep, clock_nanosleep in a fiber: go::this_fiber::sleep_for.
//  * getaddrinfo, getnameinfo, gethostbyname* in a fiber: run on go::blocking's pool (glibc's
//    resolver makes its syscalls internally, out of our reach).
//  * Regular files and anything else epoll refuses: the real (blocking) call. For a managed fd
//    that epoll refuses, the call goes to go::blocking's pool.
//  * close() (and dup2 over an fd, fclose) first retires the record: fibers parked on the fd
//    wake with EBADF, its PollDesc leaves the netpoller, then the fd is really closed.
//
// Rejected alternatives.
//  * Setting O_NONBLOCK on every socket at creation (libgo, libco): plain threads that never
//    meet a fiber would then run on emulated blocking for nothing, and a descriptor shared with
//    another process would change under it. We switch an fd only when a fiber first waits on it.
//  * A private epoll instance for every parked poll(): about 7 syscalls per wait (create, add
//    each fd, register, close). libcurl parks in a 2-fd poll() for every response; it is now
//    the fallback only (fds another fiber waits on, unmanaged fds, select).
//  * Patching GOT/PLT entries at run time (plthook): misses libraries dlopen'ed later and
//    static calls, and is far more fragile than symbol interposition.
//  * LD_PRELOAD as the only way in: users would have to set it; interposition by definition
//    works for both link modes with no environment.
//  * Running every hooked call on go::blocking's pool: a thread hand-off per read, and a pool
//    thread per blocked connection.
//
// Invariants.
//  * A record belongs to its fd number: the hook that creates an fd (socket, accept, pipe,
//    eventfd, epoll_create, dup) describes it, the hook that ends it (close, dup2 over it,
//    fclose) clears it, before the real close, while the number cannot be reused. fcntl, ioctl
//    and setsockopt change the user's view and timeouts. Anyone may read a record lock-free.
//  * The fiber path runs only on fibers (it may park); the thread path never parks, and only
//    blocks in poll(2) where the user expects a blocking call. No lock is held across a park
//    or a blocking syscall.
//  * Hooks never throw, except FiberUnwind from a park when go::run unwinds a fiber at exit
//    (like every other park; C frames in between need unwind tables, which Debian's have).
//  * In a child created by fork() every hook passes straight through (hooks_disabled()), and
//    so does every hook of a process started with GOCXX_HOOKS=0 (a switch for diagnosis).
//
// Limits (what this does not cover): fds the hooks never saw created and that are not sockets
// (open(), inherited pipes and ttys) are passed through, so a fiber reading stdin blocks its P
// (use go::blocking); stdio (fread, fgets) makes its syscalls inside libc, out of reach; a
// descriptor's O_NONBLOCK is shared with its dups and with forked children, so a fiber's switch
// is visible there (threads see the user view; another process sees the real flag); dup'ed fds
// get a copy of the user view, not a shared one; signal masks given to ppoll/pselect/
// epoll_pwait are ignored while a fiber parks (signals go to threads, not fibers) and a parked
// fiber is never interrupted (no EINTR); sendfile, splice, recvmmsg, sendmmsg and close_range
// are not hooked; fds at or above 2^20 are passed through. And as with every parking call: a
// fiber that holds a lock which blocks the thread (std::mutex) across a hooked call may
// deadlock against another fiber of its P that wants the lock (use go::Mutex). A signal
// handler that interrupts a fiber runs the fiber path: its write() to a blocking-view pipe may
// prepare the fd (allocating) or park, so such fds must be non-blocking (the usual self-pipe
// practice).
#undef _FORTIFY_SOURCE  // we define read() etc.; fortify turns them into inline wrappers

#include "net/hooks.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

#include "go/blocking.h"
#include "net/fd_table.h"
#include "net/netpoll.h"
#include "sched/scheduler.h"

extern "C" const int gocxx_hooks_linked = 1;

namespace go::detail::hooks {

namespace {

// ---------------------------------------------------------------------------------------------
// The real functions.

// Set on the thread that is inside dlsym: a hook called from there (an allocator initialising)
// must not resolve again. initial-exec: no allocation on first access, even in libgocxx.so.
__attribute__((tls_model("initial-exec"))) thread_local bool t_resolving = false;

// See hooks_disabled(). Set before main (GOCXX_HOOKS=0) or in a forked child; never cleared.
std::atomic<bool> g_disabled{false};

// One real function: resolved on first use (or by the constructor below), then one load.
template <class Fn>
class Real {
 public:
  constexpr Real(const char* name, Fn self) : name_(name), self_(self) {}

  // The real function, or nullptr while this thread is inside dlsym (the caller then makes
  // the raw syscall) or if no later definition exists. Any thread.
  Fn get() {
    Fn f = fn_.load(std::memory_order_acquire);
    if (f != nullptr) [[likely]]
      return f;
    return resolve();
  }

 private:
  Fn resolve() {
    if (t_resolving) return nullptr;
    t_resolving = true;
    void* sym = dlsym(RTLD_NEXT, name_);
    t_resolving = false;
    Fn f = reinterpret_cast<Fn>(sym);
    if (f == self_) f = nullptr;  // a loader that found us again: never call ourselves
    if (f != nullptr) fn_.store(f, std::memory_order_release);  // the same value on any thread
    return f;
  }

  const char* name_;
  Fn self_;
  std::atomic<Fn> fn_{nullptr};
};

// decltype(&::read) carries glibc's access/nonnull attributes, which a template argument
// drops (harmlessly: they are diagnostics for callers).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#define GOCXX_REAL(name)                          \
  constinit Real<decltype(&::name)> real_##name { \
#name, &::name                                \
  }

GOCXX_REAL(read);
GOCXX_REAL(write);
GOCXX_REAL(readv);
GOCXX_REAL(writev);
GOCXX_REAL(recv);
GOCXX_REAL(recvfrom);
GOCXX_REAL(recvmsg);
GOCXX_REAL(send);
GOCXX_REAL(sendto);
GOCXX_REAL(sendmsg);
GOCXX_REAL(accept);
GOCXX_REAL(accept4);
GOCXX_REAL(connect);
GOCXX_REAL(poll);
GOCXX_REAL(ppoll);
GOCXX_REAL(select);
GOCXX_REAL(pselect);
GOCXX_REAL(epoll_wait);
GOCXX_REAL(epoll_pwait);
GOCXX_REAL(epoll_pwait2);
GOCXX_REAL(sleep);
GOCXX_REAL(usleep);
GOCXX_REAL(nanosleep);
GOCXX_REAL(clock_nanosleep);
GOCXX_REAL(close);
GOCXX_REAL(fclose);
GOCXX_REAL(dup);
GOCXX_REAL(dup2);
GOCXX_REAL(dup3);
GOCXX_REAL(fcntl);
GOCXX_REAL(ioctl);
GOCXX_REAL(setsockopt);
GOCXX_REAL(socket);
GOCXX_REAL(socketpair);
GOCXX_REAL(pipe);
GOCXX_REAL(pipe2);
GOCXX_REAL(eventfd);
GOCXX_REAL(epoll_create);
GOCXX_REAL(epoll_create1);
GOCXX_REAL(getaddrinfo);
GOCXX_REAL(getnameinfo);
GOCXX_REAL(gethostbyname);
GOCXX_REAL(gethostbyname2);
GOCXX_REAL(gethostbyname_r);
GOCXX_REAL(gethostbyname2_r);
GOCXX_REAL(gethostbyaddr);

#undef GOCXX_REAL
#pragma GCC diagnostic pop

// Resolves every real function before main (and before the default-priority constructors of
// other objects, which may already do I/O), notes forks and reads GOCXX_HOOKS.
__attribute__((constructor(101))) void init_hooks() {
  (void)real_read.get(), (void)real_write.get(), (void)real_readv.get(), (void)real_writev.get();
  (void)real_recv.get(), (void)real_recvfrom.get(), (void)real_recvmsg.get();
  (void)real_send.get(), (void)real_sendto.get(), (void)real_sendmsg.get();
  (void)real_accept.get(), (void)real_accept4.get(), (void)real_connect.get();
  (void)real_poll.get(), (void)real_ppoll.get(), (void)real_select.get(), (void)real_pselect.get();
  (void)real_epoll_wait.get(), (void)real_epoll_pwait.get(), (void)real_epoll_pwait2.get();
  (void)real_sleep.get(), (void)real_usleep.get(), (void)real_nanosleep.get();
  (void)real_clock_nanosleep.get(), (void)real_close.get(), (void)real_fclose.get();
  (void)real_dup.get(), (void)real_dup2.get(), (void)real_dup3.get(), (void)real_fcntl.get();
  (void)real_ioctl.get(), (void)real_setsockopt.get(), (void)real_socket.get();
  (void)real_socketpair.get(), (void)real_pipe.get(), (void)real_pipe2.get();
  (void)real_eventfd.get(), (void)real_epoll_create.get(), (void)real_epoll_create1.get();
  (void)real_getaddrinfo.get(), (void)real_getnameinfo.get(), (void)real_gethostbyname.get();
  (void)real_gethostbyname2.get(), (void)real_gethostbyname_r.get();
  (void)real_gethostbyname2_r.get(), (void)real_gethostbyaddr.get();
  pthread_atfork(nullptr, nullptr, [] { g_disabled.store(true, std::memory_order_relaxed); });
  if (const char* env = getenv("GOCXX_HOOKS"); env != nullptr && env[0] == '0' && env[1] == '\0')
    g_disabled.store(true, std::memory_order_relaxed);
}

// The real calls. Each falls back to the raw syscall when the real function is not available
// (this thread is inside dlsym); the few without a syscall of their own fail with ENOSYS.

// errno of the thread we run on now. A fiber may have moved to another thread at its last
// park, and errno's address (__errno_location(), declared const) computed before that must not
// be reused after it: these are out of line so that every use asks again.
__attribute__((noipa)) int get_errno() {
  return errno;
}
__attribute__((noipa)) void set_errno(int e) {
  errno = e;
}
__attribute__((noipa)) void set_h_errno(int e) {
  h_errno = e;
}

template <class R>
R no_real(R result) {
  set_errno(ENOSYS);
  return result;
}

ssize_t sys_read(int fd, void* buf, size_t n) {
  if (auto f = real_read.get()) return f(fd, buf, n);
  return syscall(SYS_read, fd, buf, n);
}
ssize_t sys_write(int fd, const void* buf, size_t n) {
  if (auto f = real_write.get()) return f(fd, buf, n);
  return syscall(SYS_write, fd, buf, n);
}
ssize_t sys_readv(int fd, const iovec* iov, int cnt) {
  if (auto f = real_readv.get()) return f(fd, iov, cnt);
  return syscall(SYS_readv, fd, iov, cnt);
}
ssize_t sys_writev(int fd, const iovec* iov, int cnt) {
  if (auto f = real_writev.get()) return f(fd, iov, cnt);
  return syscall(SYS_writev, fd, iov, cnt);
}
ssize_t sys_recv(int fd, void* buf, size_t n, int flags) {
  if (auto f = real_recv.get()) return f(fd, buf, n, flags);
  return syscall(SYS_recvfrom, fd, buf, n, flags, nullptr, nullptr);
}
ssize_t sys_recvfrom(int fd, void* buf, size_t n, int flags, sockaddr* addr, socklen_t* len) {
  if (auto f = real_recvfrom.get()) return f(fd, buf, n, flags, addr, len);
  return syscall(SYS_recvfrom, fd, buf, n, flags, addr, len);
}
ssize_t sys_recvmsg(int fd, msghdr* msg, int flags) {
  if (auto f = real_recvmsg.get()) return f(fd, msg, flags);
  return syscall(SYS_recvmsg, fd, msg, flags);
}
ssize_t sys_send(int fd, const void* buf, size_t n, int flags) {
  if (auto f = real_send.get()) return f(fd, buf, n, flags);
  return syscall(SYS_sendto, fd, buf, n, flags, nullptr, 0);
}
ssize_t sys_sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr,
                   socklen_t len) {
  if (auto f = real_sendto.get()) return f(fd, buf, n, flags, addr, len);
  return syscall(SYS_sendto, fd, buf, n, flags, addr, len);
}
ssize_t sys_sendmsg(int fd, const msghdr* msg, int flags) {
  if (auto f = real_sendmsg.get()) return f(fd, msg, flags);
  return syscall(SYS_sendmsg, fd, msg, flags);
}
int sys_accept(int fd, sockaddr* addr, socklen_t* len) {
  if (auto f = real_accept.get()) return f(fd, addr, len);
  return static_cast<int>(syscall(SYS_accept4, fd, addr, len, 0));
}
int sys_accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  if (auto f = real_accept4.get()) return f(fd, addr, len, flags);
  return static_cast<int>(syscall(SYS_accept4, fd, addr, len, flags));
}
int sys_connect(int fd, const sockaddr* addr, socklen_t len) {
  if (auto f = real_connect.get()) return f(fd, addr, len);
  return static_cast<int>(syscall(SYS_connect, fd, addr, len));
}
int sys_poll(pollfd* fds, nfds_t n, int timeout_ms) {
  if (auto f = real_poll.get()) return f(fds, n, timeout_ms);
  timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000L};
  return static_cast<int>(
      syscall(SYS_ppoll, fds, n, timeout_ms < 0 ? nullptr : &ts, nullptr, _NSIG / 8));
}
int sys_ppoll(pollfd* fds, nfds_t n, const timespec* t, const sigset_t* mask) {
  if (auto f = real_ppoll.get()) return f(fds, n, t, mask);
  return no_real(-1);
}
int sys_select(int n, fd_set* r, fd_set* w, fd_set* e, timeval* t) {
  if (auto f = real_select.get()) return f(n, r, w, e, t);
  return no_real(-1);
}
int sys_pselect(int n, fd_set* r, fd_set* w, fd_set* e, const timespec* t, const sigset_t* m) {
  if (auto f = real_pselect.get()) return f(n, r, w, e, t, m);
  return no_real(-1);
}
int sys_epoll_wait(int epfd, epoll_event* ev, int max, int timeout_ms) {
  if (auto f = real_epoll_wait.get()) return f(epfd, ev, max, timeout_ms);
  return static_cast<int>(syscall(SYS_epoll_pwait, epfd, ev, max, timeout_ms, nullptr, 0));
}
int sys_epoll_pwait(int epfd, epoll_event* ev, int max, int timeout_ms, const sigset_t* m) {
  if (auto f = real_epoll_pwait.get()) return f(epfd, ev, max, timeout_ms, m);
  return static_cast<int>(syscall(SYS_epoll_pwait, epfd, ev, max, timeout_ms, m, _NSIG / 8));
}
int sys_epoll_pwait2(int epfd, epoll_event* ev, int max, const timespec* t, const sigset_t* m) {
  if (auto f = real_epoll_pwait2.get()) return f(epfd, ev, max, t, m);
  return no_real(-1);
}
int sys_nanosleep(const timespec* req, timespec* rem) {
  if (auto f = real_nanosleep.get()) return f(req, rem);
  return static_cast<int>(syscall(SYS_nanosleep, req, rem));
}
int sys_clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  if (auto f = real_clock_nanosleep.get()) return f(clock, flags, req, rem);
  // The raw syscall reports through errno; clock_nanosleep returns the error number.
  return syscall(SYS_clock_nanosleep, clock, flags, req, rem) == 0 ? 0 : errno;
}
unsigned sys_sleep(unsigned s) {
  if (auto f = real_sleep.get()) return f(s);
  timespec ts{static_cast<time_t>(s), 0};
  return sys_nanosleep(&ts, nullptr) == 0 ? 0 : s;
}
int sys_usleep(useconds_t us) {
  if (auto f = real_usleep.get()) return f(us);
  timespec ts{static_cast<time_t>(us / 1'000'000), static_cast<long>(us % 1'000'000) * 1000};
  return sys_nanosleep(&ts, nullptr);
}
int sys_close(int fd) {
  if (auto f = real_close.get()) return f(fd);
  return static_cast<int>(syscall(SYS_close, fd));
}
int sys_fclose(FILE* fp) {
  if (auto f = real_fclose.get()) return f(fp);
  return no_real(EOF);
}
int sys_dup(int fd) {
  if (auto f = real_dup.get()) return f(fd);
  return static_cast<int>(syscall(SYS_dup, fd));
}
int sys_dup2(int fd, int fd2) {
  if (auto f = real_dup2.get()) return f(fd, fd2);
  if (fd == fd2) return static_cast<int>(syscall(SYS_fcntl, fd, F_GETFD)) < 0 ? -1 : fd2;
  return static_cast<int>(syscall(SYS_dup3, fd, fd2, 0));
}
int sys_dup3(int fd, int fd2, int flags) {
  if (auto f = real_dup3.get()) return f(fd, fd2, flags);
  return static_cast<int>(syscall(SYS_dup3, fd, fd2, flags));
}
int sys_fcntl(int fd, int cmd, long arg) {
  if (auto f = real_fcntl.get()) return f(fd, cmd, arg);
  return static_cast<int>(syscall(SYS_fcntl, fd, cmd, arg));
}
int sys_ioctl(int fd, unsigned long req, void* arg) {
  if (auto f = real_ioctl.get()) return f(fd, req, arg);
  return static_cast<int>(syscall(SYS_ioctl, fd, req, arg));
}
int sys_setsockopt(int fd, int level, int name, const void* val, socklen_t len) {
  if (auto f = real_setsockopt.get()) return f(fd, level, name, val, len);
  return static_cast<int>(syscall(SYS_setsockopt, fd, level, name, val, len));
}
int sys_socket(int domain, int type, int proto) {
  if (auto f = real_socket.get()) return f(domain, type, proto);
  return static_cast<int>(syscall(SYS_socket, domain, type, proto));
}
int sys_socketpair(int domain, int type, int proto, int sv[2]) {
  if (auto f = real_socketpair.get()) return f(domain, type, proto, sv);
  return static_cast<int>(syscall(SYS_socketpair, domain, type, proto, sv));
}
int sys_pipe(int fds[2]) {
  if (auto f = real_pipe.get()) return f(fds);
  return static_cast<int>(syscall(SYS_pipe2, fds, 0));
}
int sys_pipe2(int fds[2], int flags) {
  if (auto f = real_pipe2.get()) return f(fds, flags);
  return static_cast<int>(syscall(SYS_pipe2, fds, flags));
}
int sys_eventfd(unsigned count, int flags) {
  if (auto f = real_eventfd.get()) return f(count, flags);
  return static_cast<int>(syscall(SYS_eventfd2, count, flags));
}
int sys_epoll_create(int size) {
  if (auto f = real_epoll_create.get()) return f(size);
  if (size <= 0) return no_real(-1);
  return static_cast<int>(syscall(SYS_epoll_create1, 0));
}
int sys_epoll_create1(int flags) {
  if (auto f = real_epoll_create1.get()) return f(flags);
  return static_cast<int>(syscall(SYS_epoll_create1, flags));
}

// ---------------------------------------------------------------------------------------------
// Helpers.

// A hook may take the fiber path: a fiber runs on this thread (not its g0), and the hooks are
// not disabled. Any thread.
bool in_fiber() {
  return !g_disabled.load(std::memory_order_relaxed) && current_g() != nullptr;
}

// In a fiber that may park for a sleep (not one go::run is unwinding: a sleep there, maybe in a
// noexcept destructor, must not throw FiberUnwind; it blocks M0, which runs nothing else then).
bool fiber_may_sleep() {
  return in_fiber() && !unwinding_fiber();
}

// Sleeps the calling fiber for ns (<= 0: yields). Fiber only.
void fiber_sleep(std::int64_t ns) {
  if (ns <= 0) {
    go::this_fiber::yield();
    return;
  }
  constexpr std::int64_t kChunk = std::int64_t{1} << 61;  // keeps steady_clock from overflowing
  while (ns > 0) {
    const std::int64_t d = std::min(ns, kChunk);
    go::this_fiber::sleep_for(std::chrono::nanoseconds(d));
    ns -= d;
  }
}

// Parks forever (poll with no fds and no timeout). Fiber only.
[[noreturn]] void fiber_sleep_forever() {
  for (;;) go::this_fiber::sleep_for(std::chrono::hours(24 * 365));
}

std::int64_t to_ns(const timespec& ts) {
  constexpr std::int64_t kMax = INT64_MAX / 2;
  if (ts.tv_sec >= kMax / 1'000'000'000) return kMax;
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

bool valid(const timespec& ts) {
  return ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1'000'000'000;
}

// now_ns() + ns, or 0 (no deadline) for a negative ns; never 0 for ns >= 0.
std::int64_t deadline_after(std::int64_t ns) {
  if (ns < 0) return 0;
  return now_ns() + std::max<std::int64_t>(ns, 1);
}

// The deadline for a call that starts waiting on r in `mode` now: SO_RCVTIMEO/SO_SNDTIMEO.
std::int64_t timeout_deadline(const FdRecord* r, PollMode mode) {
  const std::int64_t t = r->timeout[static_cast<int>(mode)].load(std::memory_order_relaxed);
  return t > 0 ? now_ns() + t : 0;
}

// Runs `call` on go::blocking's pool (a managed fd epoll refused, a name lookup) and brings its
// errno back to this fiber. Fiber only.
template <class Call>
auto on_pool(Call&& call) {
  auto [result, err] = go::blocking([&call] {
    auto r = call();
    return std::pair<decltype(r), int>(r, errno);
  });
  set_errno(err);
  return result;
}

// The record a fiber consults for fd, classified on first sight; nullptr: pass it through.
// Fiber only (a plain thread passes unknown fds through without looking).
FdRecord* fiber_record(int fd, std::uint32_t* flags) {
  FdRecord* r = fd_get(fd);
  if (r == nullptr) return nullptr;
  std::uint32_t fl = r->flags.load(std::memory_order_acquire);
  if (fl == 0) fl = fd_classify(r, fd);
  *flags = fl;
  return r;
}

// Readies a managed blocking-view fd for a fiber wait (see fd_prepare). Returns 0, or -1 with
// errno set (EBADF: closed meanwhile), or 1 when the fd must go to go::blocking's pool.
int fiber_prepare(FdRecord* r, int fd, std::uint32_t fl, bool set_nonblock) {
  if ((fl & kUnpollable) != 0) return 1;
  if ((fl & kPrepared) != 0) return 0;
  switch (fd_prepare(r, fd, set_nonblock)) {
    case Prepare::ok:
      return 0;
    case Prepare::unpollable:
      return 1;
    case Prepare::closed:
      break;
  }
  set_errno(EBADF);
  return -1;
}

// The errno a fiber's wait ends the call with, 0 to retry the call.
int wait_errno(PollStatus st) {
  switch (st) {
    case PollStatus::ready:
      return 0;
    case PollStatus::timeout:
      return EAGAIN;  // SO_RCVTIMEO/SO_SNDTIMEO passed: POSIX's EAGAIN/EWOULDBLOCK
    case PollStatus::closed:
      break;
  }
  return EBADF;  // close() from another party: the fd is gone
}

// A plain thread waits until fd may be ready for mode (poll(2)) or deadline passes. Returns 0
// or the errno to fail with (EAGAIN at the deadline, EINTR for a signal, as a blocking call).
int thread_wait(int fd, PollMode mode, std::int64_t deadline) {
  pollfd p{fd, static_cast<short>(mode == PollMode::read ? POLLIN : POLLOUT), 0};
  for (;;) {
    int ms = -1;
    if (deadline != 0) {
      const std::int64_t left = deadline - now_ns();
      if (left <= 0) return EAGAIN;
      ms = static_cast<int>(std::min<std::int64_t>((left + 999'999) / 1'000'000, INT_MAX));
    }
    const int rc = sys_poll(&p, 1, ms);
    if (rc > 0) return 0;  // ready, or POLLERR/POLLHUP/POLLNVAL: the retried call reports them
    if (rc < 0) return get_errno();
  }
}

// ---------------------------------------------------------------------------------------------
// The syscall-first I/O loop.

// Options of one I/O call.
constexpr unsigned kPlain = 0;
constexpr unsigned kFull = 1;      // a blocking write (or MSG_WAITALL read): all len bytes or EOF
constexpr unsigned kDontWait = 2;  // MSG_DONTWAIT: this call is non-blocking whatever the view

ssize_t fail_with(std::size_t done, int err) {
  if (done > 0) return static_cast<ssize_t>(done);
  set_errno(err);
  return -1;
}

// `n` is the result of the first call(0); call(done) makes the real call for what is left;
// wait() returns 0 once the fd may be ready, else the errno to end the call with.
template <class Call, class Wait>
ssize_t io_loop(std::size_t len, unsigned opts, ssize_t n, Call& call, Wait&& wait) {
  std::size_t done = 0;
  for (;;) {
    if (n > 0 && (opts & kFull) != 0) {
      done += static_cast<std::size_t>(n);
      if (done >= len) return static_cast<ssize_t>(done);
      n = call(done);  // try the rest at once: the fd may take more
      continue;
    }
    if (n >= 0) return (opts & kFull) != 0 ? static_cast<ssize_t>(done) + n : n;
    if (get_errno() != EAGAIN) return done > 0 ? static_cast<ssize_t>(done) : -1;
    if (const int err = wait(); err != 0) return fail_with(done, err);
    n = call(done);
  }
}

// A plain thread's call: libc's, except on an fd a fiber made O_NONBLOCK for real while the
// user sees it blocking (told by EAGAIN, or a short write, on such a record): block in poll(2).
template <class Call>
ssize_t thread_io(int fd, PollMode mode, std::size_t len, unsigned opts, Call& call) {
  const ssize_t n = call(0);
  const bool partial = (opts & kFull) != 0 && n > 0 && static_cast<std::size_t>(n) < len;
  if (!partial && (n >= 0 || get_errno() != EAGAIN)) return n;
  if ((opts & kDontWait) != 0 || g_disabled.load(std::memory_order_relaxed)) return n;
  const int saved = get_errno();
  FdRecord* r = fd_find(fd);
  const std::uint32_t fl = r != nullptr ? r->flags.load(std::memory_order_acquire) : 0;
  // A short write on a really blocking fd is the kernel's answer (a signal, SO_SNDTIMEO): keep
  // it. Only one on an fd we switched is ours to complete.
  if (!io_kind(fl) || (fl & kUserNonblock) != 0 || (partial && (fl & kPrepared) == 0)) {
    set_errno(saved);
    return n;
  }
  const std::int64_t deadline = timeout_deadline(r, mode);
  return io_loop(len, opts, n, call, [&] { return thread_wait(fd, mode, deadline); });
}

// Every read/write-like hook: `call(done)` is the real syscall for the bytes after `done`.
template <class Call>
ssize_t do_io(int fd, PollMode mode, std::size_t len, unsigned opts, Call call) {
  if (!in_fiber()) return thread_io(fd, mode, len, opts, call);
  std::uint32_t fl = 0;
  FdRecord* r = fiber_record(fd, &fl);
  if (r == nullptr || !io_kind(fl) || (fl & kUserNonblock) != 0 || (opts & kDontWait) != 0)
    return call(0);  // not ours, or non-blocking in the user's eyes: libc's behaviour
  switch (fiber_prepare(r, fd, fl, /*set_nonblock=*/true)) {
    case 0:
      break;
    case 1:
      return on_pool([&call] { return call(0); });
    default:
      return -1;
  }
  std::optional<FdRef> ref;  // taken at the first EAGAIN: calls that need not wait take nothing
  std::int64_t deadline = 0;
  return io_loop(len, opts, call(0), call, [&]() -> int {
    if (!ref) {
      ref.emplace(r);
      if (!ref->ok()) return EBADF;
      deadline = timeout_deadline(r, mode);
    }
    return wait_errno(ref->wait(fd, mode, deadline));
  });
}

// The remaining part of an iovec array after `done` bytes (for writev/sendmsg's loops).
class IovCursor {
 public:
  IovCursor(const iovec* iov, int cnt) : iov_(iov), cnt_(cnt) {}

  std::size_t total() const {
    std::size_t sum = 0;
    for (int i = 0; i < cnt_; ++i) sum += iov_[i].iov_len;
    return sum;
  }

  std::pair<const iovec*, int> at(std::size_t done) {
    if (done == 0 || cnt_ <= 0) return {iov_, cnt_};
    int i = 0;
    while (i < cnt_ && done >= iov_[i].iov_len) done -= iov_[i++].iov_len;
    rest_.assign(iov_ + i, iov_ + cnt_);
    if (!rest_.empty()) {
      rest_[0].iov_base = static_cast<char*>(rest_[0].iov_base) + done;
      rest_[0].iov_len -= done;
    }
    return {rest_.data(), static_cast<int>(rest_.size())};
  }

 private:
  const iovec* iov_;
  int cnt_;
  std::vector<iovec> rest_;  // allocated only after a partial write
};

unsigned send_opts(int flags) {
  return kFull | ((flags & MSG_DONTWAIT) != 0 ? kDontWait : 0);
}

unsigned recv_opts(int flags) {
  return ((flags & MSG_DONTWAIT) != 0 ? kDontWait : 0) | ((flags & MSG_WAITALL) != 0 ? kFull : 0);
}

// ---------------------------------------------------------------------------------------------
// connect

// After a connect that returned EINPROGRESS: waits for writability and reads the outcome.
template <class Wait>
int finish_connect(int fd, Wait&& wait) {
  for (;;) {
    if (const int err = wait(); err != 0) {
      set_errno(err == EAGAIN ? EINPROGRESS : err);  // SO_SNDTIMEO passed: Linux says EINPROGRESS
      return -1;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) return -1;
    if (so_error != 0) {
      set_errno(so_error);
      return -1;
    }
    sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) return 0;
    if (get_errno() != ENOTCONN) return -1;
    // Not connected yet: the wake-up came early. Wait again.
  }
}

int thread_connect(int fd, const sockaddr* addr, socklen_t len) {
  const int rc = sys_connect(fd, addr, len);
  if (rc == 0 || get_errno() != EINPROGRESS || g_disabled.load(std::memory_order_relaxed))
    return rc;
  FdRecord* r = fd_find(fd);
  const std::uint32_t fl = r != nullptr ? r->flags.load(std::memory_order_acquire) : 0;
  if (kind_of(fl) != FdKind::socket || (fl & kUserNonblock) != 0) {
    set_errno(EINPROGRESS);
    return rc;
  }
  const std::int64_t deadline = timeout_deadline(r, PollMode::write);
  return finish_connect(fd, [&] { return thread_wait(fd, PollMode::write, deadline); });
}

int fiber_connect(int fd, const sockaddr* addr, socklen_t len) {
  std::uint32_t fl = 0;
  FdRecord* r = fiber_record(fd, &fl);
  if (r == nullptr || kind_of(fl) != FdKind::socket || (fl & kUserNonblock) != 0)
    return sys_connect(fd, addr, len);
  switch (fiber_prepare(r, fd, fl, /*set_nonblock=*/true)) {
    case 0:
      break;
    case 1:
      return on_pool([&] { return sys_connect(fd, addr, len); });
    default:
      return -1;
  }
  int rc = sys_connect(fd, addr, len);
  if (rc == 0 || (get_errno() != EINPROGRESS && get_errno() != EAGAIN)) return rc;
  FdRef ref(r);
  if (!ref.ok()) {
    set_errno(EBADF);
    return -1;
  }
  const std::int64_t deadline = timeout_deadline(r, PollMode::write);
  auto wait = [&] { return wait_errno(ref.wait(fd, PollMode::write, deadline)); };
  while (rc != 0 && get_errno() == EAGAIN) {  // AF_UNIX: the listener's backlog is full; retry
    if (const int err = wait(); err != 0) {
      set_errno(err);
      return -1;
    }
    rc = sys_connect(fd, addr, len);
  }
  if (rc == 0 || get_errno() != EINPROGRESS) return rc;
  return finish_connect(fd, wait);
}

// ---------------------------------------------------------------------------------------------
// poll, select, epoll_wait

// Parks until any of fds may be ready or `deadline` (0: none) passes, on the fds' own
// PollDescs (poll_wait_any): no syscall beyond the netpoller's. Only when every fd is a managed,
// pollable one that no other party waits on in the directions asked (then each direction is
// claimed for the wait), for at most kMaxWaitAny distinct fds, with events the netpoller
// reports (read: POLLIN and its kin, write: POLLOUT and its kin; POLLPRI alone is not seen).
// Otherwise nothing is done and the result is `fallback`: the caller uses a private epoll
// instance (TempPoll). libcurl's wait for a response is this case: its socket and its wakeup
// socketpair, both for reading.
enum class WaitAny { waited, timeout, fallback };
constexpr nfds_t kMaxWaitAny = 8;

WaitAny wait_any(const pollfd* fds, nfds_t n, std::int64_t deadline) {
  constexpr short kRead = POLLIN | POLLRDNORM | POLLRDBAND | POLLPRI;
  constexpr short kWrite = POLLOUT | POLLWRNORM | POLLWRBAND;
  if (n > kMaxWaitAny) return WaitAny::fallback;
  std::optional<FdRef> refs[kMaxWaitAny];
  PollWaitItem items[2 * kMaxWaitAny];
  std::size_t count = 0;
  // What was claimed, released however this ends.
  struct Claimed {
    std::optional<FdRef>* ref;
    PollMode mode;
  } claimed[2 * kMaxWaitAny];
  std::size_t nclaimed = 0;
  struct Unclaim {
    Claimed* c;
    std::size_t* n;
    ~Unclaim() {
      for (std::size_t i = 0; i < *n; ++i) (*c[i].ref)->unclaim_for_wait(c[i].mode);
    }
  } unclaim{claimed, &nclaimed};
  for (nfds_t i = 0; i < n; ++i) {
    const int fd = fds[i].fd;
    if (fd < 0) continue;
    for (nfds_t j = 0; j < i; ++j)
      if (fds[j].fd == fd) return WaitAny::fallback;  // the same fd twice
    const short ev = fds[i].events;
    if ((ev & ~(kRead | kWrite)) != 0 || ((ev & POLLPRI) != 0 && (ev & POLLIN) == 0))
      return WaitAny::fallback;
    FdRecord* r = fd_get(fd);
    if (r == nullptr) return WaitAny::fallback;
    std::uint32_t fl = r->flags.load(std::memory_order_acquire);
    if (kind_of(fl) == FdKind::unknown) fl = fd_classify(r, fd);
    if (!io_kind(fl) || fiber_prepare(r, fd, fl, /*set_nonblock=*/true) != 0)
      return WaitAny::fallback;
    std::optional<FdRef>& ref = refs[i];
    ref.emplace(r);
    if (!ref->ok() || ref->pd() == nullptr) return WaitAny::fallback;
    for (const PollMode mode : {PollMode::read, PollMode::write}) {
      if ((ev & (mode == PollMode::read ? kRead : kWrite)) == 0) continue;
      if (!ref->claim_for_wait(mode)) return WaitAny::fallback;
      claimed[nclaimed++] = Claimed{&ref, mode};
      items[count++] = PollWaitItem{ref->pd(), mode};
    }
  }
  if (count == 0) return WaitAny::fallback;
  const PollStatus st = poll_wait_any(items, count, deadline);
  // An fd closed meanwhile: the caller's next try (fallback) reports it as poll does.
  for (const auto& ref : refs)
    if (ref && ref->retired()) return WaitAny::fallback;
  return st == PollStatus::timeout ? WaitAny::timeout : WaitAny::waited;
}

// A fiber's poll(): `timeout_ns` < 0 waits forever. The real poll with a zero timeout decides
// every result; the netpoller (or a private epoll instance) only tells when to ask again.
int fiber_poll(pollfd* fds, nfds_t n, std::int64_t timeout_ns) {
  const int first = sys_poll(fds, n, 0);
  if (first != 0 || timeout_ns == 0) return first;
  const std::int64_t deadline = deadline_after(timeout_ns);
  bool any = false;
  for (nfds_t i = 0; i < n && !any; ++i) any = fds[i].fd >= 0;
  if (!any) {  // poll as a sleep
    if (deadline == 0) fiber_sleep_forever();
    fiber_sleep(deadline - now_ns());
    return 0;
  }
  for (;;) {
    const WaitAny w = wait_any(fds, n, deadline);
    if (w == WaitAny::fallback) break;
    const int rc = sys_poll(fds, n, 0);
    if (rc != 0 || w == WaitAny::timeout) return rc;
  }
  TempPoll tp;
  bool armed = tp.open();
  for (nfds_t i = 0; i < n && armed; ++i) {
    if (fds[i].fd < 0) continue;
    const std::uint32_t ev = static_cast<std::uint16_t>(fds[i].events);
    if (tp.add(fds[i].fd, ev) == EEXIST) {  // the same fd twice: wait for the union
      std::uint32_t all = 0;
      for (nfds_t j = 0; j <= i; ++j)
        if (fds[j].fd == fds[i].fd) all |= static_cast<std::uint16_t>(fds[j].events);
      tp.modify(fds[i].fd, all);
    }
  }
  armed = armed && tp.arm();
  if (!armed) {  // out of fds: block a pool thread instead of this P
    const int ms =
        timeout_ns < 0
            ? -1
            : static_cast<int>(std::min<std::int64_t>((timeout_ns + 999'999) / 1'000'000, INT_MAX));
    return on_pool([&] { return sys_poll(fds, n, ms); });
  }
  for (;;) {
    const PollStatus st = tp.wait(deadline);
    const int rc = sys_poll(fds, n, 0);
    if (rc != 0 || st == PollStatus::timeout) return rc;
  }
}

// A fiber's select()/pselect(): as fiber_poll, with select's own zero-timeout call deciding.
// `timeout_ns` < 0 waits forever; *left (if given) receives the time not waited.
int fiber_select(int nfds, fd_set* r, fd_set* w, fd_set* e, std::int64_t timeout_ns,
                 std::int64_t* left) {
  fd_set in_r, in_w, in_e;  // the caller's sets: each attempt starts from them
  if (r != nullptr) in_r = *r;
  if (w != nullptr) in_w = *w;
  if (e != nullptr) in_e = *e;
  auto attempt = [&] {
    if (r != nullptr) *r = in_r;
    if (w != nullptr) *w = in_w;
    if (e != nullptr) *e = in_e;
    timeval zero{0, 0};
    return sys_select(nfds, r, w, e, &zero);
  };
  const std::int64_t start = now_ns();
  auto finish = [&](int rc) {
    if (left != nullptr && timeout_ns >= 0)
      *left = std::max<std::int64_t>(0, timeout_ns - (now_ns() - start));
    return rc;
  };
  const int first = attempt();
  if (first != 0 || timeout_ns == 0) return finish(first);
  const std::int64_t deadline = deadline_after(timeout_ns);
  TempPoll tp;
  bool armed = tp.open();
  bool any = false;
  const int limit = std::min(nfds, FD_SETSIZE);
  for (int fd = 0; fd < limit && armed; ++fd) {
    std::uint32_t ev = 0;
    if (r != nullptr && FD_ISSET(fd, &in_r)) ev |= POLLIN;
    if (w != nullptr && FD_ISSET(fd, &in_w)) ev |= POLLOUT;
    if (e != nullptr && FD_ISSET(fd, &in_e)) ev |= POLLPRI;
    if (ev == 0) continue;
    any = true;
    (void)tp.add(fd, ev);
  }
  if (!any) {  // select as a sleep
    if (deadline == 0) fiber_sleep_forever();
    fiber_sleep(deadline - now_ns());
    return finish(attempt());
  }
  if (!armed || !tp.arm()) {  // out of fds: block a pool thread instead of this P
    timeval tv{static_cast<time_t>(timeout_ns / 1'000'000'000),
               static_cast<suseconds_t>(timeout_ns % 1'000'000'000 / 1000)};
    return finish(on_pool([&] {
      if (r != nullptr) *r = in_r;
      if (w != nullptr) *w = in_w;
      if (e != nullptr) *e = in_e;
      return sys_select(nfds, r, w, e, timeout_ns < 0 ? nullptr : &tv);
    }));
  }
  for (;;) {
    const PollStatus st = tp.wait(deadline);
    const int rc = attempt();
    if (rc != 0 || st == PollStatus::timeout) return finish(rc);
  }
}

// A fiber's epoll_wait family: `try_now()` is the real call with a zero timeout, `blocking()`
// the real call with the caller's timeout (for go::blocking's pool when epoll refuses to nest).
template <class TryNow, class Blocking>
int fiber_epoll_wait(int epfd, std::int64_t timeout_ns, TryNow&& try_now, Blocking&& blocking) {
  const int first = try_now();
  if (first != 0 || timeout_ns == 0) return first;  // events, or an error (EBADF, EINVAL)
  FdRecord* r = fd_get(epfd);
  if (r == nullptr) return on_pool(blocking);
  std::uint32_t fl = r->flags.load(std::memory_order_acquire);
  if (kind_of(fl) != FdKind::epoll) {  // an epoll fd no hook saw created (or a stale record)
    fd_created(epfd, FdKind::epoll, false);
    fl = r->flags.load(std::memory_order_acquire);
  }
  switch (fiber_prepare(r, epfd, fl, /*set_nonblock=*/false)) {
    case 0:
      break;
    case 1:
      return on_pool(blocking);
    default:
      return -1;
  }
  FdRef ref(r);
  if (!ref.ok()) {
    set_errno(EBADF);
    return -1;
  }
  const std::int64_t deadline = deadline_after(timeout_ns);
  for (;;) {
    const PollStatus st = ref.wait(epfd, PollMode::read, deadline);
    if (st == PollStatus::closed) {
      set_errno(EBADF);
      return -1;
    }
    const int rc = try_now();
    if (rc != 0 || st == PollStatus::timeout) return rc;
  }
}

std::int64_t ms_to_ns(int ms) {
  return ms < 0 ? -1 : std::int64_t{ms} * 1'000'000;
}

std::int64_t ts_to_ns(const timespec* ts) {
  return ts == nullptr ? -1 : to_ns(*ts);
}

// dup2/dup3 close fd2's old file. If fd2 has a PollDesc, it must leave epoll while fd2 still
// names that file (epoll_ctl(DEL) finds the registration through the number), and the fibers
// parked on it must wake (EBADF), as for close(). A dup2 that fails (bad fd) closes nothing,
// hence the check. fd_duplicated afterwards forgets whatever else the record held.
void retire_before_dup(int fd, int fd2) {
  FdRecord* r = fd_find(fd2);
  if (r == nullptr || r->pd.load(std::memory_order_acquire) == nullptr) return;
  if (sys_fcntl(fd, F_GETFD, 0) < 0) return;
  fd_retire(r);
}

// ---------------------------------------------------------------------------------------------
// fcntl / ioctl

int fcntl_impl(int fd, int cmd, long arg) {
  if (g_disabled.load(std::memory_order_relaxed)) return sys_fcntl(fd, cmd, arg);
  switch (cmd) {
    case F_GETFL: {
      const int real = sys_fcntl(fd, cmd, arg);
      if (real < 0) return real;
      FdRecord* r = fd_find(fd);
      const std::uint32_t fl = r != nullptr ? r->flags.load(std::memory_order_acquire) : 0;
      if (!io_kind(fl)) return real;
      // The user's view, not the O_NONBLOCK a fiber may have set for real.
      return (real & ~O_NONBLOCK) | ((fl & kUserNonblock) != 0 ? O_NONBLOCK : 0);
    }
    case F_SETFL: {
      FdRecord* r = fd_find(fd);
      const std::uint32_t fl = r != nullptr ? r->flags.load(std::memory_order_acquire) : 0;
      if (!io_kind(fl)) return sys_fcntl(fd, cmd, arg);
      // A prepared fd keeps its real O_NONBLOCK (a fiber may be parked on it, and threads get
      // the blocking view emulated); every other bit goes through as given.
      const long real_arg = (fl & kPrepared) != 0 ? (arg | O_NONBLOCK) : arg;
      const int rc = sys_fcntl(fd, cmd, real_arg);
      if (rc == 0) {
        if ((arg & O_NONBLOCK) != 0)
          r->flags.fetch_or(kUserNonblock, std::memory_order_acq_rel);
        else
          r->flags.fetch_and(~kUserNonblock, std::memory_order_acq_rel);
      }
      return rc;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const int nfd = sys_fcntl(fd, cmd, arg);
      if (nfd >= 0) fd_duplicated(fd, nfd);
      return nfd;
    }
    default:
      return sys_fcntl(fd, cmd, arg);
  }
}

// SO_RCVTIMEO/SO_SNDTIMEO (old and new layouts, which agree on 64-bit targets) in ns: 0 none;
// a negative time makes the kernel time out at once, so we store the smallest timeout.
std::int64_t sockopt_timeout_ns(int name, const void* val, socklen_t len) {
  std::int64_t sec = 0, usec = 0;
  if (name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW) {
    if (len < 2 * sizeof(std::int64_t)) return 0;
    const auto* v = static_cast<const std::int64_t*>(val);
    sec = v[0];
    usec = v[1];
  } else {
    if (len < sizeof(timeval)) return 0;
    const auto* tv = static_cast<const timeval*>(val);
    sec = tv->tv_sec;
    usec = tv->tv_usec;
  }
  if (sec < 0) return 1;
  if (sec == 0 && usec == 0) return 0;
  if (sec > INT64_MAX / 4'000'000'000) return INT64_MAX / 4;
  return sec * 1'000'000'000 + usec * 1000;
}

bool is_timeout_opt(int name) {
  return name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD || name == SO_RCVTIMEO_NEW ||
         name == SO_SNDTIMEO_NEW;
}

// The gethostbyname family reports through h_errno, which is per thread: the pool thread's
// value is carried back to the fiber's thread.
template <class Call>
auto with_h_errno(Call&& call) {
  if (!in_fiber()) return call();
  auto [result, herr] = go::blocking([&call] {
    auto r = call();
    return std::pair<decltype(r), int>(r, h_errno);
  });
  set_h_errno(herr);
  return result;
}

}  // namespace

// hooks.h
int real_close(int fd) {
  return sys_close(fd);
}
int real_fcntl(int fd, int cmd, long arg) {
  return sys_fcntl(fd, cmd, arg);
}
int real_epoll_create1(int flags) {
  return sys_epoll_create1(flags);
}
bool hooks_disabled() {
  return g_disabled.load(std::memory_order_relaxed);
}

}  // namespace go::detail::hooks

// =============================================================================================
// The interposers. Declared by the system headers; each definition keeps its header's
// exception specification (glibc marks the calls that cannot be cancellation points noexcept).

using namespace go::detail::hooks;
using go::detail::PollMode;

extern "C" {

ssize_t read(int fd, void* buf, size_t n) {
  return do_io(fd, PollMode::read, n, kPlain, [&](size_t) { return sys_read(fd, buf, n); });
}

ssize_t write(int fd, const void* buf, size_t n) {
  return do_io(fd, PollMode::write, n, kFull, [&](size_t done) {
    return sys_write(fd, static_cast<const char*>(buf) + done, n - done);
  });
}

ssize_t readv(int fd, const iovec* iov, int cnt) {
  return do_io(fd, PollMode::read, 0, kPlain, [&](size_t) { return sys_readv(fd, iov, cnt); });
}

ssize_t writev(int fd, const iovec* iov, int cnt) {
  IovCursor cur(iov, cnt);
  return do_io(fd, PollMode::write, cur.total(), kFull, [&](size_t done) {
    const auto [v, c] = cur.at(done);
    return sys_writev(fd, v, c);
  });
}

ssize_t recv(int fd, void* buf, size_t n, int flags) {
  return do_io(fd, PollMode::read, n, recv_opts(flags), [&](size_t done) {
    return sys_recv(fd, static_cast<char*>(buf) + done, n - done, flags);
  });
}

ssize_t recvfrom(int fd, void* __restrict buf, size_t n, int flags, sockaddr* __restrict addr,
                 socklen_t* __restrict len) {
  return do_io(fd, PollMode::read, n, recv_opts(flags), [&](size_t done) {
    return sys_recvfrom(fd, static_cast<char*>(buf) + done, n - done, flags, addr, len);
  });
}

ssize_t recvmsg(int fd, msghdr* msg, int flags) {
  return do_io(fd, PollMode::read, 0, recv_opts(flags) & ~kFull,
               [&](size_t) { return sys_recvmsg(fd, msg, flags); });
}

ssize_t send(int fd, const void* buf, size_t n, int flags) {
  return do_io(fd, PollMode::write, n, send_opts(flags), [&](size_t done) {
    return sys_send(fd, static_cast<const char*>(buf) + done, n - done, flags);
  });
}

ssize_t sendto(int fd, const void* buf, size_t n, int flags, const sockaddr* addr, socklen_t len) {
  return do_io(fd, PollMode::write, n, send_opts(flags), [&](size_t done) {
    return sys_sendto(fd, static_cast<const char*>(buf) + done, n - done, flags, addr, len);
  });
}

ssize_t sendmsg(int fd, const msghdr* msg, int flags) {
  IovCursor cur(msg->msg_iov, static_cast<int>(msg->msg_iovlen));
  msghdr m = *msg;
  return do_io(fd, PollMode::write, cur.total(), send_opts(flags), [&](size_t done) {
    const auto [v, c] = cur.at(done);
    m.msg_iov = const_cast<iovec*>(v);
    m.msg_iovlen = static_cast<size_t>(c);
    if (done > 0) {  // ancillary data (SCM_RIGHTS...) went with the first part
      m.msg_control = nullptr;
      m.msg_controllen = 0;
    }
    return sys_sendmsg(fd, &m, flags);
  });
}

int accept(int fd, sockaddr* __restrict addr, socklen_t* __restrict len) {
  const int nfd = static_cast<int>(
      do_io(fd, PollMode::read, 0, kPlain, [&](size_t) { return sys_accept(fd, addr, len); }));
  if (nfd >= 0 && !hooks_disabled()) fd_created(nfd, FdKind::socket, false);
  return nfd;
}

int accept4(int fd, sockaddr* __restrict addr, socklen_t* __restrict len, int flags) {
  const int nfd = static_cast<int>(do_io(
      fd, PollMode::read, 0, kPlain, [&](size_t) { return sys_accept4(fd, addr, len, flags); }));
  if (nfd >= 0 && !hooks_disabled()) fd_created(nfd, FdKind::socket, (flags & SOCK_NONBLOCK) != 0);
  return nfd;
}

int connect(int fd, const sockaddr* addr, socklen_t len) {
  if (!in_fiber()) return thread_connect(fd, addr, len);
  return fiber_connect(fd, addr, len);
}

int poll(pollfd* fds, nfds_t n, int timeout_ms) {
  if (timeout_ms == 0 || !in_fiber()) return sys_poll(fds, n, timeout_ms);
  return fiber_poll(fds, n, ms_to_ns(timeout_ms));
}

int ppoll(pollfd* fds, nfds_t n, const timespec* timeout, const sigset_t* mask) {
  if (!in_fiber() || (timeout != nullptr && (!valid(*timeout) || to_ns(*timeout) == 0)))
    return sys_ppoll(fds, n, timeout, mask);
  return fiber_poll(fds, n, ts_to_ns(timeout));
}

int select(int nfds, fd_set* __restrict r, fd_set* __restrict w, fd_set* __restrict e,
           timeval* __restrict timeout) {
  if (!in_fiber() || nfds < 0 ||
      (timeout != nullptr &&
       (timeout->tv_sec < 0 || timeout->tv_usec < 0 || timeout->tv_usec >= 1'000'000 ||
        (timeout->tv_sec == 0 && timeout->tv_usec == 0))))
    return sys_select(nfds, r, w, e, timeout);
  const std::int64_t ns = timeout == nullptr ? -1
                                             : std::int64_t{timeout->tv_sec} * 1'000'000'000 +
                                                   std::int64_t{timeout->tv_usec} * 1000;
  std::int64_t left = 0;
  const int rc = fiber_select(nfds, r, w, e, ns, &left);
  if (timeout != nullptr) {  // Linux reports the time not slept
    timeout->tv_sec = static_cast<time_t>(left / 1'000'000'000);
    timeout->tv_usec = static_cast<suseconds_t>(left % 1'000'000'000 / 1000);
  }
  return rc;
}

int pselect(int nfds, fd_set* __restrict r, fd_set* __restrict w, fd_set* __restrict e,
            const timespec* __restrict timeout, const sigset_t* __restrict mask) {
  if (!in_fiber() || nfds < 0 || (timeout != nullptr && (!valid(*timeout) || to_ns(*timeout) == 0)))
    return sys_pselect(nfds, r, w, e, timeout, mask);
  return fiber_select(nfds, r, w, e, ts_to_ns(timeout), nullptr);
}

int epoll_wait(int epfd, epoll_event* ev, int max, int timeout_ms) {
  if (timeout_ms == 0 || !in_fiber()) return sys_epoll_wait(epfd, ev, max, timeout_ms);
  return fiber_epoll_wait(
      epfd, ms_to_ns(timeout_ms), [&] { return sys_epoll_wait(epfd, ev, max, 0); },
      [&] { return sys_epoll_wait(epfd, ev, max, timeout_ms); });
}

int epoll_pwait(int epfd, epoll_event* ev, int max, int timeout_ms, const sigset_t* mask) {
  if (timeout_ms == 0 || !in_fiber()) return sys_epoll_pwait(epfd, ev, max, timeout_ms, mask);
  return fiber_epoll_wait(
      epfd, ms_to_ns(timeout_ms), [&] { return sys_epoll_wait(epfd, ev, max, 0); },
      [&] { return sys_epoll_pwait(epfd, ev, max, timeout_ms, mask); });
}

int epoll_pwait2(int epfd, epoll_event* ev, int max, const timespec* timeout,
                 const sigset_t* mask) {
  if (!in_fiber() || (timeout != nullptr && (!valid(*timeout) || to_ns(*timeout) == 0)))
    return sys_epoll_pwait2(epfd, ev, max, timeout, mask);
  return fiber_epoll_wait(
      epfd, ts_to_ns(timeout), [&] { return sys_epoll_wait(epfd, ev, max, 0); },
      [&] { return sys_epoll_pwait2(epfd, ev, max, timeout, mask); });
}

unsigned int sleep(unsigned int seconds) {
  if (!fiber_may_sleep()) return sys_sleep(seconds);
  fiber_sleep(std::int64_t{seconds} * 1'000'000'000);
  return 0;
}

int usleep(useconds_t usec) {
  if (!fiber_may_sleep()) return sys_usleep(usec);
  fiber_sleep(std::int64_t{usec} * 1000);
  return 0;
}

int nanosleep(const timespec* req, timespec* rem) {
  if (!fiber_may_sleep() || req == nullptr || !valid(*req)) return sys_nanosleep(req, rem);
  fiber_sleep(to_ns(*req));
  return 0;
}

int clock_nanosleep(clockid_t clock, int flags, const timespec* req, timespec* rem) {
  const bool known = clock == CLOCK_MONOTONIC || clock == CLOCK_REALTIME ||
                     clock == CLOCK_BOOTTIME || clock == CLOCK_TAI;
  if (!fiber_may_sleep() || !known || req == nullptr || !valid(*req))
    return sys_clock_nanosleep(clock, flags, req, rem);
  std::int64_t ns = to_ns(*req);
  if ((flags & TIMER_ABSTIME) != 0) {
    timespec now;
    clock_gettime(clock, &now);
    ns -= to_ns(now);
  }
  fiber_sleep(ns);
  return 0;
}

int close(int fd) {
  if (!hooks_disabled())
    if (FdRecord* r = fd_find(fd)) fd_retire(r);  // before the number can be reused
  return sys_close(fd);
}

int fclose(FILE* fp) {
  if (fp != nullptr && !hooks_disabled()) {
    const int fd = fileno(fp);
    if (FdRecord* r = fd_find(fd)) fd_retire(r);  // glibc closes the fd internally, unhooked
  }
  return sys_fclose(fp);
}

int dup(int fd) noexcept {
  const int nfd = sys_dup(fd);
  if (nfd >= 0 && !hooks_disabled()) fd_duplicated(fd, nfd);
  return nfd;
}

int dup2(int fd, int fd2) noexcept {
  if (fd != fd2 && !hooks_disabled()) retire_before_dup(fd, fd2);
  const int rc = sys_dup2(fd, fd2);
  if (rc >= 0 && fd != fd2 && !hooks_disabled()) fd_duplicated(fd, fd2);
  return rc;
}

int dup3(int fd, int fd2, int flags) noexcept {
  if (fd != fd2 && !hooks_disabled()) retire_before_dup(fd, fd2);
  const int rc = sys_dup3(fd, fd2, flags);
  if (rc >= 0 && !hooks_disabled()) fd_duplicated(fd, fd2);
  return rc;
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);  // what glibc reads too, whether or not cmd takes one
  va_end(ap);
  return fcntl_impl(fd, cmd, arg);
}

// glibc 2.28+: what fcntl() calls compile to with _FILE_OFFSET_BITS=64.
int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  const long arg = va_arg(ap, long);
  va_end(ap);
  return fcntl_impl(fd, cmd, arg);
}

int ioctl(int fd, unsigned long request, ...) noexcept {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (request != FIONBIO || arg == nullptr || hooks_disabled()) return sys_ioctl(fd, request, arg);
  FdRecord* r = fd_find(fd);
  const std::uint32_t fl = r != nullptr ? r->flags.load(std::memory_order_acquire) : 0;
  if (!io_kind(fl)) return sys_ioctl(fd, request, arg);
  const bool nonblock = *static_cast<int*>(arg) != 0;
  int one = 1;  // a prepared fd keeps its real O_NONBLOCK (see F_SETFL)
  const int rc = sys_ioctl(fd, request, (fl & kPrepared) != 0 ? &one : arg);
  if (rc == 0) {
    if (nonblock)
      r->flags.fetch_or(kUserNonblock, std::memory_order_acq_rel);
    else
      r->flags.fetch_and(~kUserNonblock, std::memory_order_acq_rel);
  }
  return rc;
}

int setsockopt(int fd, int level, int name, const void* val, socklen_t len) noexcept {
  const int rc = sys_setsockopt(fd, level, name, val, len);
  // The kernel keeps the timeout too (getsockopt reads it there, a really blocking fd uses it);
  // the record's copy is for the waits we emulate.
  if (rc == 0 && level == SOL_SOCKET && is_timeout_opt(name) && !hooks_disabled()) {
    if (FdRecord* r = fd_get(fd)) {
      std::uint32_t fl = r->flags.load(std::memory_order_acquire);
      if (fl == 0) fl = fd_classify(r, fd);
      if (kind_of(fl) == FdKind::socket) {
        const bool rcv = name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW;
        r->timeout[rcv ? 0 : 1].store(sockopt_timeout_ns(name, val, len),
                                      std::memory_order_relaxed);
      }
    }
  }
  return rc;
}

int socket(int domain, int type, int protocol) noexcept {
  const int fd = sys_socket(domain, type, protocol);
  if (fd >= 0 && !hooks_disabled()) fd_created(fd, FdKind::socket, (type & SOCK_NONBLOCK) != 0);
  return fd;
}

int socketpair(int domain, int type, int protocol, int sv[2]) noexcept {
  const int rc = sys_socketpair(domain, type, protocol, sv);
  if (rc == 0 && !hooks_disabled()) {
    fd_created(sv[0], FdKind::socket, (type & SOCK_NONBLOCK) != 0);
    fd_created(sv[1], FdKind::socket, (type & SOCK_NONBLOCK) != 0);
  }
  return rc;
}

int pipe(int fds[2]) noexcept {
  const int rc = sys_pipe(fds);
  if (rc == 0 && !hooks_disabled()) {
    fd_created(fds[0], FdKind::pipe, false);
    fd_created(fds[1], FdKind::pipe, false);
  }
  return rc;
}

int pipe2(int fds[2], int flags) noexcept {
  const int rc = sys_pipe2(fds, flags);
  if (rc == 0 && !hooks_disabled()) {
    fd_created(fds[0], FdKind::pipe, (flags & O_NONBLOCK) != 0);
    fd_created(fds[1], FdKind::pipe, (flags & O_NONBLOCK) != 0);
  }
  return rc;
}

int eventfd(unsigned int count, int flags) noexcept {
  const int fd = sys_eventfd(count, flags);
  if (fd >= 0 && !hooks_disabled()) fd_created(fd, FdKind::eventfd, (flags & EFD_NONBLOCK) != 0);
  return fd;
}

int epoll_create(int size) noexcept {
  const int fd = sys_epoll_create(size);
  if (fd >= 0 && !hooks_disabled()) fd_created(fd, FdKind::epoll, false);
  return fd;
}

int epoll_create1(int flags) noexcept {
  const int fd = sys_epoll_create1(flags);
  if (fd >= 0 && !hooks_disabled()) fd_created(fd, FdKind::epoll, false);
  return fd;
}

int getaddrinfo(const char* __restrict node, const char* __restrict service,
                const addrinfo* __restrict hints, addrinfo** __restrict res) {
  auto call = [&] {
    if (auto f = real_getaddrinfo.get()) return f(node, service, hints, res);
    return no_real(EAI_SYSTEM);
  };
  return in_fiber() ? on_pool(call) : call();
}

int getnameinfo(const sockaddr* __restrict sa, socklen_t salen, char* __restrict host,
                socklen_t hostlen, char* __restrict serv, socklen_t servlen, int flags) {
  auto call = [&] {
    if (auto f = real_getnameinfo.get()) return f(sa, salen, host, hostlen, serv, servlen, flags);
    return no_real(EAI_SYSTEM);
  };
  return in_fiber() ? on_pool(call) : call();
}

hostent* gethostbyname(const char* name) {
  return with_h_errno([&]() -> hostent* {
    if (auto f = real_gethostbyname.get()) return f(name);
    return no_real<hostent*>(nullptr);
  });
}

hostent* gethostbyname2(const char* name, int af) {
  return with_h_errno([&]() -> hostent* {
    if (auto f = real_gethostbyname2.get()) return f(name, af);
    return no_real<hostent*>(nullptr);
  });
}

hostent* gethostbyaddr(const void* addr, socklen_t len, int type) {
  return with_h_errno([&]() -> hostent* {
    if (auto f = real_gethostbyaddr.get()) return f(addr, len, type);
    return no_real<hostent*>(nullptr);
  });
}

int gethostbyname_r(const char* __restrict name, hostent* __restrict ret, char* __restrict buf,
                    size_t buflen, hostent** __restrict result, int* __restrict h_errnop) {
  auto call = [&] {
    if (auto f = real_gethostbyname_r.get()) return f(name, ret, buf, buflen, result, h_errnop);
    return no_real(ENOSYS);
  };
  return in_fiber() ? on_pool(call) : call();
}

int gethostbyname2_r(const char* __restrict name, int af, hostent* __restrict ret,
                     char* __restrict buf, size_t buflen, hostent** __restrict result,
                     int* __restrict h_errnop) {
  auto call = [&] {
    if (auto f = real_gethostbyname2_r.get())
      return f(name, af, ret, buf, buflen, result, h_errnop);
    return no_real(ENOSYS);
  };
  return in_fiber() ? on_pool(call) : call();
}

}  // extern "C"
