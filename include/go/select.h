// go::select: Go's select statement over channel cases, a timeout and a default.
//
//   std::size_t i = go::select(
//       go::on_recv(in, [](std::optional<int> v) { ... }),   // v == nullopt: in is closed
//       go::on_send(out, 42, [] { ... }),
//       go::on_timeout(100ms, [] { ... }),
//       go::on_default([] { ... }));
//
// select waits until one case can proceed, performs that one transfer, runs that case's handler
// and returns the case's index (its position in the argument list). Exactly one handler runs.
// Among cases ready at the same time one is chosen uniformly at random (Go's semantics), so no
// case starves. Handlers run after every channel lock has been released: they may use the same
// channels freely. An exception from a handler propagates out of select.
//
// Cases:
//  - on_recv(ch, f): ready when a value can be received or ch is closed; f gets
//    std::optional<T> (nullopt: closed and drained). f may also take no argument.
//  - on_send(ch, v, f): ready when v can be sent; v is moved into the case when the case is
//    made, and dropped if another case runs. A send case on a closed channel makes select throw
//    go::ChannelClosed (Go panics), whether it was closed before or while select waited.
//  - on_timeout(d, f): runs if no channel case became ready within d (measured from the call
//    to select; never earlier). d <= 0: runs at once unless a channel case is ready. With
//    several timeouts the shortest counts.
//  - on_default(f): runs at once if no channel case is ready; select then never waits (and a
//    timeout never fires). At most one.
// Any number of cases (at least 1), of any mix of element types. A case object is meant to be
// passed to one select (build it in the call); the same channel may appear in several cases.
// A case refers to a channel handle given as an lvalue (that handle must outlive the case, as
// it always does inside one select(...) expression) and keeps its own copy of a temporary one.
//
// Blocking works as for channels: a fiber parks, a plain thread blocks. See src/sync/select.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "go/chan.h"

namespace go {

namespace detail {

enum class SelectKind : std::uint8_t { recv, send, timeout, fallback };

// One case, type-erased for select_impl.
struct SelectCase {
  SelectKind kind;
  ChanCore* core;           // recv, send
  void* elem;               // recv: an empty std::optional<T>; send: the T to send
  std::int64_t timeout_ns;  // timeout
};

// Go's selectgo over cases[0..n): waits until one case can proceed and performs its transfer
// (recv: fills the slot, or leaves it empty for a closed channel). Returns that case's index;
// the caller runs its handler. `scratch` holds 2n indices. Throws go::ChannelClosed for a send
// case on a closed channel. Any party.
std::size_t select_impl(SelectCase* cases, std::size_t n, std::uint16_t* scratch);

// How a case holds its channel: a pointer to the caller's handle (lvalue), which spares the
// two atomic reference-count updates a copy costs per case and select (they showed in
// select2's profile), or a copy of a temporary handle, which would be gone before select runs
// if the case was built apart from the call.
template <class T, bool Owned>
class ChanRef {
 public:
  explicit ChanRef(const Channel<T>& ch) : ch_(&ch) {}
  ChanCore* core() const noexcept { return ch_->core(); }

 private:
  const Channel<T>* ch_;
};

template <class T>
class ChanRef<T, true> {
 public:
  explicit ChanRef(const Channel<T>& ch) : ch_(ch) {}
  ChanCore* core() const noexcept { return ch_.core(); }

 private:
  Channel<T> ch_;
};

// Whether a case made from a handle argument of type Ch (a deduced forwarding reference)
// copies it: a temporary, yes; an lvalue, no.
template <class Ch>
inline constexpr bool kOwnsHandle = !std::is_lvalue_reference_v<Ch>;

template <class T, class F, bool Owned>
class RecvCase {
  static_assert(std::is_invocable_v<F&, std::optional<T>> || std::is_invocable_v<F&>,
                "go::on_recv(ch, f): f must be callable as f(std::optional<T>) or f()");

 public:
  RecvCase(const Channel<T>& ch, F f) : ch_(ch), f_(std::move(f)) {}
  SelectCase describe() {
    slot_.reset();
    return {SelectKind::recv, ch_.core(), &slot_, 0};
  }
  void run() {
    if constexpr (std::is_invocable_v<F&, std::optional<T>>)
      f_(std::move(slot_));
    else
      f_();
  }

 private:
  ChanRef<T, Owned> ch_;
  F f_;
  std::optional<T> slot_;
};

template <class T, class F, bool Owned>
class SendCase {
  static_assert(std::is_invocable_v<F&>, "go::on_send(ch, v, f): f must be callable as f()");

 public:
  template <class U>
  SendCase(const Channel<T>& ch, U&& v, F f)
      : ch_(ch), value_(std::forward<U>(v)), f_(std::move(f)) {}
  SelectCase describe() { return {SelectKind::send, ch_.core(), &value_, 0}; }
  void run() { f_(); }

 private:
  ChanRef<T, Owned> ch_;
  T value_;
  F f_;
};

template <class F>
class TimeoutCase {
  static_assert(std::is_invocable_v<F&>, "go::on_timeout(d, f): f must be callable as f()");

 public:
  TimeoutCase(std::chrono::nanoseconds d, F f) : d_(d), f_(std::move(f)) {}
  SelectCase describe() { return {SelectKind::timeout, nullptr, nullptr, d_.count()}; }
  void run() { f_(); }

 private:
  std::chrono::nanoseconds d_;
  F f_;
};

template <class F>
class DefaultCase {
  static_assert(std::is_invocable_v<F&>, "go::on_default(f): f must be callable as f()");

 public:
  explicit DefaultCase(F f) : f_(std::move(f)) {}
  SelectCase describe() { return {SelectKind::fallback, nullptr, nullptr, 0}; }
  void run() { f_(); }

 private:
  F f_;
};

template <class C>
struct IsSelectCase : std::false_type {};
template <class T, class F, bool Owned>
struct IsSelectCase<RecvCase<T, F, Owned>> : std::true_type {};
template <class T, class F, bool Owned>
struct IsSelectCase<SendCase<T, F, Owned>> : std::true_type {};
template <class F>
struct IsSelectCase<TimeoutCase<F>> : std::true_type {};
template <class F>
struct IsSelectCase<DefaultCase<F>> : std::true_type {};

template <class C>
struct IsDefaultCase : std::false_type {};
template <class F>
struct IsDefaultCase<DefaultCase<F>> : std::true_type {};

}  // namespace detail

// A case that receives from ch; f(std::optional<T>) (or f()) runs if it is chosen. An lvalue
// handle is referred to, a temporary one copied into the case (detail::ChanRef).
template <class Ch, class F, class T = typename std::remove_cvref_t<Ch>::value_type,
          std::enable_if_t<std::is_same_v<std::remove_cvref_t<Ch>, Channel<T>>, int> = 0>
detail::RecvCase<T, std::decay_t<F>, detail::kOwnsHandle<Ch>> on_recv(Ch&& ch, F&& f) {
  return {ch, std::forward<F>(f)};
}

// A case that sends v (converted to T now) on ch; f() runs if it is chosen. The handle is held
// as by on_recv.
template <class Ch, class U, class F, class T = typename std::remove_cvref_t<Ch>::value_type,
          std::enable_if_t<std::is_same_v<std::remove_cvref_t<Ch>, Channel<T>>, int> = 0>
detail::SendCase<T, std::decay_t<F>, detail::kOwnsHandle<Ch>> on_send(Ch&& ch, U&& v, F&& f) {
  static_assert(std::is_constructible_v<T, U&&>, "go::on_send(ch, v, f): v does not convert to T");
  return {ch, std::forward<U>(v), std::forward<F>(f)};
}

// A case that runs f() if no channel case became ready within d (rounded up to nanoseconds;
// durations beyond ~292 years are clamped).
template <class Rep, class Period, class F>
detail::TimeoutCase<std::decay_t<F>> on_timeout(std::chrono::duration<Rep, Period> d, F&& f) {
  using std::chrono::nanoseconds;
  const auto limit = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(
      nanoseconds::max() - nanoseconds(1));
  const nanoseconds ns = d >= limit ? nanoseconds::max() : std::chrono::ceil<nanoseconds>(d);
  return {ns, std::forward<F>(f)};
}

// A case that runs f() at once if no channel case is ready.
template <class F>
detail::DefaultCase<std::decay_t<F>> on_default(F&& f) {
  return detail::DefaultCase<std::decay_t<F>>(std::forward<F>(f));
}

// Waits until one case can proceed, runs its handler, returns its index. See the top of file.
template <class... Cases>
std::size_t select(Cases&&... cases) {
  constexpr std::size_t n = sizeof...(Cases);
  static_assert(n >= 1, "go::select: give at least one case");
  static_assert(n < 32768, "go::select: too many cases");
  static_assert((detail::IsSelectCase<std::remove_cvref_t<Cases>>::value && ...),
                "go::select: every argument must be go::on_recv, go::on_send, go::on_timeout or "
                "go::on_default");
  static_assert((0 + ... + int{detail::IsDefaultCase<std::remove_cvref_t<Cases>>::value}) <= 1,
                "go::select: at most one go::on_default");
  detail::SelectCase described[n] = {cases.describe()...};
  std::uint16_t scratch[2 * n];
  const std::size_t chosen = detail::select_impl(described, n, scratch);
  std::size_t i = 0;
  ((i++ == chosen ? cases.run() : void()), ...);
  return chosen;
}

}  // namespace go
