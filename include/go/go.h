// gocxx: Go's runtime model for C++20. This umbrella header is always enough.
#pragma once

#include "go/blocking.h"
#include "go/chan.h"
#include "go/coroutine.h"
#include "go/net.h"
#include "go/runtime.h"
#include "go/select.h"
#include "go/stats.h"
#include "go/sync.h"
#include "go/time.h"
