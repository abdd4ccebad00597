// Stand-alone asymmetric coroutines (Lua-style) and generators (Python-style).
//
// A go::Coroutine runs a function on its own stack and can suspend it part-way (yield) and
// continue it later (resume). No scheduler is needed: resume() runs the body on the calling
// thread until it yields or returns. Coroutines nest (a coroutine may resume another; yield
// returns to the immediate resumer) and may be used inside fibers, where the body may also
// park the fiber (sleep, receive from a channel, ...) and so migrate to another thread.
// go::Generator<T> builds on it: the body hands values out one at a time through go::Yield<T>.
//
// Neither type is thread-safe: one thread (or fiber) at a time may use a given coroutine, but
// consecutive resumes may come from different threads.
#pragma once

#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <utility>

namespace go {

namespace detail {
struct CoroutineState;  // defined in src/sched/coroutine.cpp
}  // namespace detail

template <class T>
class Generator;
template <class T>
class Yield;

// Runs a function as a coroutine: a body with its own stack that can suspend itself with
// Coroutine::yield() and be continued with resume(), as in Lua.
//
// Lifecycle: the constructor only stores the body; the stack is taken on the first resume()
// and given back as soon as the body returns or throws. Destroying a coroutine that is
// suspended inside its body unwinds that body: yield() throws an internal exception (not
// derived from std::exception) so that the destructors of the body's locals run, and the
// destructor returns once the body has left. The body must let that exception pass:
//   - a catch (...) that swallows it and then yields again terminates the process with a
//     message (a catch (...) that rethrows with `throw;` is fine);
//   - if it crosses a noexcept function, the process terminates (as for any exception);
//   - yielding from a destructor while the body is being unwound terminates;
//   - an exception other than the internal one escaping the body while it is being unwound
//     terminates with a message (a destructor cannot rethrow it).
// Destroying a never-started or dead coroutine just frees it. Destroying a coroutine that is
// running or normal (from inside its own body, or from one it resumed) terminates.
//
// Movable (the moved-from object is dead: status() == dead, resume() returns false);
// not copyable. Moving never moves the stack, so a running coroutine may even be moved.
class Coroutine {
 public:
  // Lua's coroutine.status.
  enum class Status {
    suspended,  // created and not yet resumed, or yielded
    running,    // executing: it is the innermost coroutine of this thread (or fiber)
    normal,     // it resumed another coroutine, which has not yielded back yet
    dead,       // its body returned or threw (or the object was moved from)
  };

  // Creates a suspended coroutine that will run `body` on a stack of `stack_size` bytes
  // (rounded up to pages). 0 means the environment variable GOCXX_STACK_SIZE (decimal bytes)
  // if set, else 256 KiB. Stacks are virtual memory: only the pages touched cost memory.
  // Throws std::invalid_argument if `body` is empty.
  explicit Coroutine(std::function<void()> body, std::size_t stack_size = 0);

  Coroutine(Coroutine&& other) noexcept;
  // Destroys (unwinds) what this coroutine held, then takes over `other`.
  Coroutine& operator=(Coroutine&& other) noexcept;
  Coroutine(const Coroutine&) = delete;
  Coroutine& operator=(const Coroutine&) = delete;
  ~Coroutine();

  // Runs the body (from its start, or from where it last yielded) until it yields or returns.
  // Returns true if the body ran, whether it yielded or finished in this call (status()
  // tells which: suspended or dead); returns false without running anything if the
  // coroutine is already dead. An exception escaping the body makes the coroutine dead and is
  // rethrown here. Throws std::logic_error if the coroutine is running or normal (resuming
  // itself or one of its resumers), and std::system_error if no stack can be allocated.
  bool resume();

  // Where the coroutine stands (see Status).
  Status status() const noexcept;

  // Suspends the innermost running coroutine: its resume() returns true, and the next
  // resume() continues after this call. Throws std::logic_error outside any coroutine and
  // inside a go::Generator's body (yield values through its go::Yield<T>& instead).
  static void yield();

  // The innermost running coroutine of this thread (inside a fiber: of this fiber), or
  // nullptr outside any. Inside a go::Generator's body this is the generator's coroutine.
  static Coroutine* running() noexcept;

 private:
  template <class T>
  friend class Generator;
  template <class T>
  friend class Yield;

  struct GeneratorTag {};
  Coroutine(GeneratorTag, std::function<void()> body);

  // Throws std::logic_error unless this is the innermost running coroutine.
  void check_can_yield() const;
  // Suspends this coroutine, which must be the innermost running one.
  void suspend();

  std::unique_ptr<detail::CoroutineState> state_;
};

// The callable a go::Generator's body receives: yield(value) hands `value` to the consumer
// and suspends the body until the consumer asks for the next value. Only the generator's own
// body may call it (not a coroutine it resumed): otherwise it throws std::logic_error.
template <class T>
class Yield {
 public:
  Yield(const Yield&) = delete;
  Yield& operator=(const Yield&) = delete;

  // Makes `value` the result of the pending Generator::next() and suspends the body.
  void operator()(T value) {
    coro_->check_can_yield();
    slot_->emplace(std::move(value));
    coro_->suspend();
  }

 private:
  friend class Generator<T>;
  Yield(std::optional<T>* slot, Coroutine* coro) : slot_(slot), coro_(coro) {}

  std::optional<T>* slot_;
  Coroutine* coro_;
};

// Produces a sequence of T lazily, as a Python generator: each next() runs `body` until it
// calls yield(value) and returns that value, or std::nullopt once the body has returned.
// Iterable with range-for (an input range: each value is visited once). T may be move-only.
//
// An exception escaping the body is rethrown by the next() (or iterator increment) that ran
// it; the generator is finished afterwards. Destroying an unfinished generator unwinds its
// body as ~Coroutine does. Movable (a moved-from generator is finished); not copyable.
template <class T>
class Generator {
  struct State;

 public:
  // Iterates over the remaining values; the current value lives in the generator.
  class iterator {
   public:
    using iterator_concept = std::input_iterator_tag;
    using iterator_category = std::input_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using reference = T&;
    using pointer = T*;

    iterator() = default;
    T& operator*() const { return *state_->slot; }
    T* operator->() const { return &*state_->slot; }
    // Runs the body to its next value (may rethrow what the body threw).
    iterator& operator++() {
      state_->advance();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) noexcept {
      return it.state_ == nullptr || !it.state_->slot.has_value();
    }

   private:
    friend class Generator;
    explicit iterator(State* state) : state_(state) {}
    State* state_ = nullptr;
  };

  // Creates a generator that has not started: `body` first runs at the first next()/begin().
  explicit Generator(std::function<void(Yield<T>&)> body)
      : state_(std::make_unique<State>(std::move(body))) {}

  Generator(Generator&&) noexcept = default;
  Generator& operator=(Generator&&) noexcept = default;
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;
  ~Generator() = default;

  // Runs the body to its next yield and returns the value, or std::nullopt if the body
  // returned (now or before). Rethrows an exception escaping the body.
  std::optional<T> next() {
    if (!state_) return std::nullopt;
    state_->advance();
    std::optional<T> out = std::move(state_->slot);
    state_->slot.reset();
    return out;
  }

  // Runs the body to its first (or next) value and returns an iterator to it.
  iterator begin() {
    if (state_) state_->advance();
    return iterator(state_.get());
  }
  std::default_sentinel_t end() const noexcept { return {}; }

 private:
  // Heap-allocated so that the body's Yield<T>& and the iterators survive moves.
  // Members are destroyed in reverse order: the coroutine (unwinding the body) goes first,
  // while the slot and the Yield the body refers to are still alive.
  struct State {
    explicit State(std::function<void(Yield<T>&)> body)
        : yield(&slot, &coro),
          coro(Coroutine::GeneratorTag{}, [this, b = std::move(body)] { b(yield); }) {}

    // Drops the current value and runs the body until it yields the next one or finishes.
    void advance() {
      slot.reset();
      coro.resume();
    }

    std::optional<T> slot;  // the value yielded by the last advance(), if any
    Yield<T> yield;
    Coroutine coro;
  };

  std::unique_ptr<State> state_;
};

}  // namespace go
