// Fiber-aware synchronization (Go's sync package): WaitGroup, Mutex, RWMutex, CondVar,
// Semaphore, Once. Every blocking call parks the calling fiber (its processor runs other
// fibers), or blocks the calling plain thread; fibers and threads may share any of them.
#pragma once

#include "go/cond_var.h"
#include "go/mutex.h"
#include "go/once.h"
#include "go/rw_mutex.h"
#include "go/semaphore.h"
#include "go/wait_group.h"
