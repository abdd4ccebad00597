#include "sched/current.h"

namespace go::detail {
namespace {

struct ThreadLocals {
  ExecContext thread_context;
  bool initialised = false;
  ExecContext* running = nullptr;
  void* coroutine = nullptr;
};
thread_local ThreadLocals tls_locals;

}  // namespace

GOCXX_NOIPA ExecContext*& running_context_slot() {
  if (FiberLocals* f = current_fiber_locals()) return f->running;
  ThreadLocals& t = tls_locals;
  if (!t.initialised) {
    init_thread_context(t.thread_context);
    t.running = &t.thread_context;
    t.initialised = true;
  }
  return t.running;
}

GOCXX_NOIPA void*& coroutine_slot() {
  if (FiberLocals* f = current_fiber_locals()) return f->coroutine;
  return tls_locals.coroutine;
}

}  // namespace go::detail
