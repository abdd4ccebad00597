// go::Channel<T>: Go's chan, a typed FIFO pipe between fibers and/or plain threads.
//
// A Channel is a handle: copies share one channel (like a Go chan value), and the channel lives
// until the last handle is gone and no party is blocked on it. Capacity 0 is unbuffered: a send
// and a receive meet (rendezvous) and the value passes straight from the sender to the receiver.
// Capacity n > 0 buffers up to n values in a ring.
//
// The algorithm is written once, type-erased, in src/sync/chan.cpp (a core that moves elements
// through a small table of function pointers); this header is only the typed shell around it.
//
// Blocking: inside a fiber an operation that must wait parks the fiber (its P runs others); on a
// plain thread it blocks the thread. Fibers and threads may share a channel in any mix. Timer
// callbacks (which run on a scheduler context) may only use the non-blocking try_send/try_recv.
//
// Requirements on T: an object type that is move-constructible (move-only types such as
// std::unique_ptr work; T need not be copyable or default-constructible). Values are moved under
// the channel's lock, where a half-done hand-off cannot be rolled back: if T's move constructor
// throws there, the process terminates (std::terminate). Moving the argument of send() into the
// parameter, and the result of recv() out of its std::optional, happen outside the lock and may
// throw normally. As they run under the lock, T's move constructor and destructor must not use
// the channel the value travels through.
#pragma once

#include <cstddef>
#include <iterator>
#include <new>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

namespace go {

// Thrown by a send on a closed channel (Go panics) and by closing a closed channel.
class ChannelClosed : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {

// How the type-erased core moves and destroys elements of one T. One static table per T.
struct ElemOps {
  std::size_t size;
  std::size_t align;
  // Moves *src into *slot, a std::optional<T> that is empty (a receiver's result slot).
  void (*to_slot)(void* slot, void* src) noexcept;
  // Move-constructs a T at raw storage dst from *src (a buffer cell).
  void (*to_raw)(void* dst, void* src) noexcept;
  // Destroys the T at p (a buffer cell).
  void (*destroy)(void* p) noexcept;
};

template <class T>
struct ElemOpsFor {
  // noexcept: a throwing move constructor terminates (see the top of this file).
  static void to_slot(void* slot, void* src) noexcept {
    static_cast<std::optional<T>*>(slot)->emplace(std::move(*static_cast<T*>(src)));
  }
  static void to_raw(void* dst, void* src) noexcept {
    ::new (dst) T(std::move(*static_cast<T*>(src)));
  }
  static void destroy(void* p) noexcept { static_cast<T*>(p)->~T(); }
  static constexpr ElemOps ops{sizeof(T), alignof(T), &to_slot, &to_raw, &destroy};
};

// The channel itself, defined in src/sync/chan.h. Reached only through these functions.
class ChanCore;

// Creates a channel holding one reference. Throws std::bad_alloc / std::length_error.
ChanCore* chan_new(const ElemOps* ops, std::size_t capacity);
void chan_retain(ChanCore* c) noexcept;
void chan_release(ChanCore* c) noexcept;  // the last reference destroys buffered values

// src points to a T that is moved from once the value is handed over.
void chan_send(ChanCore* c, void* src);
bool chan_try_send(ChanCore* c, void* src);
// slot points to an empty std::optional<T>; it stays empty when closed and drained (or, for
// try, when nothing is ready).
void chan_recv(ChanCore* c, void* slot);
void chan_try_recv(ChanCore* c, void* slot);
void chan_close(ChanCore* c);
bool chan_closed(const ChanCore* c) noexcept;
std::size_t chan_size(const ChanCore* c) noexcept;
std::size_t chan_capacity(const ChanCore* c) noexcept;

}  // namespace detail

template <class T>
class Channel {
  static_assert(std::is_object_v<T> && !std::is_array_v<T> && !std::is_const_v<T>,
                "go::Channel<T>: T must be a non-const object type");
  static_assert(std::is_move_constructible_v<T> && std::is_destructible_v<T>,
                "go::Channel<T>: T must be move-constructible");

 public:
  using value_type = T;

  // Creates a channel: capacity 0 is unbuffered (rendezvous), n > 0 buffers n values.
  explicit Channel(std::size_t capacity = 0)
      : core_(detail::chan_new(&detail::ElemOpsFor<T>::ops, capacity)) {}

  // Copies share the channel. There is no move: a handle is never empty (moving copies).
  Channel(const Channel& o) noexcept : core_(o.core_) { detail::chan_retain(core_); }
  Channel& operator=(const Channel& o) noexcept {
    detail::chan_retain(o.core_);
    detail::chan_release(core_);
    core_ = o.core_;
    return *this;
  }
  ~Channel() { detail::chan_release(core_); }

  // Sends v: waits for a receiver (unbuffered) or for room in the buffer. Throws
  // go::ChannelClosed if the channel is closed, or gets closed while this waits.
  void send(T v) { detail::chan_send(core_, &v); }

  // Receives the next value, waiting for one; std::nullopt once the channel is closed and
  // every buffered value has been received.
  std::optional<T> recv() {
    std::optional<T> out;
    detail::chan_recv(core_, &out);
    return out;
  }

  // Sends v only if that needs no waiting (a receiver is waiting, or the buffer has room);
  // false otherwise (v is then dropped). Throws go::ChannelClosed if the channel is closed.
  bool try_send(T v) { return detail::chan_try_send(core_, &v); }

  // Receives a value only if one is ready (buffered, or a sender is waiting); std::nullopt if
  // it would wait, or if the channel is closed and drained.
  std::optional<T> try_recv() {
    std::optional<T> out;
    detail::chan_try_recv(core_, &out);
    return out;
  }

  // Closes the channel: waiting receivers get std::nullopt, waiting senders throw
  // go::ChannelClosed; values already buffered are still received. Throws go::ChannelClosed if
  // it is already closed.
  void close() { detail::chan_close(core_); }

  bool closed() const noexcept { return detail::chan_closed(core_); }
  std::size_t size() const noexcept { return detail::chan_size(core_); }  // values buffered
  std::size_t capacity() const noexcept { return detail::chan_capacity(core_); }

  // ch << v sends; ch >> out receives into out and is false (out untouched) once the channel is
  // closed and drained.
  Channel& operator<<(T v) {
    detail::chan_send(core_, &v);
    return *this;
  }
  bool operator>>(T& out) {
    std::optional<T> v = recv();
    if (!v) return false;
    out = std::move(*v);
    return true;
  }

  // Two handles are equal when they refer to the same channel.
  friend bool operator==(const Channel& a, const Channel& b) noexcept { return a.core_ == b.core_; }

  // Receives until the channel is closed and drained: `for (T v : ch)`. An input iterator that
  // holds the current value; with a move-only T write `for (auto& v : ch)` and move from v.
  // The handle iterated over must outlive the iterator (range-for guarantees it).
  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T&;
    using pointer = T*;

    iterator() = default;
    T& operator*() const { return *value_; }
    T* operator->() const { return &*value_; }
    // Receives the next value (waits for it).
    iterator& operator++() {
      value_.reset();
      detail::chan_recv(core_, &value_);
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return !it.value_.has_value();
    }

   private:
    friend class Channel;
    explicit iterator(detail::ChanCore* core) : core_(core) { detail::chan_recv(core_, &value_); }
    detail::ChanCore* core_ = nullptr;
    mutable std::optional<T> value_;
  };

  // Starts receiving: waits for the first value (or the close).
  iterator begin() { return iterator(core_); }
  std::default_sentinel_t end() const noexcept { return {}; }

  // The type-erased channel, for go::select. Not for users.
  detail::ChanCore* core() const noexcept { return core_; }

 private:
  detail::ChanCore* core_;  // never null
};

}  // namespace go
