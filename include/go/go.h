// gocxx: Go's runtime model for C++20. This umbrella header is always enough.
#pragma once

#include "go/coroutine.h"
#include "go/runtime.h"
#include "go/stats.h"
