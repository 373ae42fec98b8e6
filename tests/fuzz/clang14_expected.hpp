#pragma once
// clang 14 cannot compile libstdc++ 12's <expected> (it lacks P0848
// conditionally trivial special members). For the libFuzzer build only, this
// stands in for it: force-included (-include) before anything else, it claims
// <expected>'s include guard and provides the subset of std::expected that
// cairn uses, on top of std::variant. Used by the dns_query harness as
//   clang++-14 -include tests/fuzz/clang14_expected.hpp -fsanitize=fuzzer,...
// and, for the meson fuzz build, by adding to the fuzzing arguments in the
// top-level meson.build:
//   '-include', meson.project_source_root() / 'tests/fuzz/clang14_expected.hpp'
#if defined(__clang__) && __clang_major__ < 16 && !defined(_GLIBCXX_EXPECTED)
#define _GLIBCXX_EXPECTED 1
#include <type_traits>
#include <utility>
#include <variant>

namespace std {

template <class E>
class unexpected {
public:
    constexpr explicit unexpected(const E& e)
        : e_(e) {}
    constexpr explicit unexpected(E&& e)
        : e_(std::move(e)) {}
    constexpr const E& error() const& noexcept { return e_; }
    constexpr E& error() & noexcept { return e_; }
    constexpr E&& error() && noexcept { return std::move(e_); }

private:
    E e_;
};
template <class E>
unexpected(E) -> unexpected<E>;

struct unexpect_t {
    explicit unexpect_t() = default;
};
inline constexpr unexpect_t unexpect{};

template <class T, class E>
class expected {
public:
    using value_type = T;
    using error_type = E;
    constexpr expected()
        : v_(std::in_place_index<0>) {}
    template <class U = T, class = enable_if_t<is_constructible_v<T, U&&> &&
                                               !is_same_v<remove_cvref_t<U>, expected> &&
                                               !is_same_v<remove_cvref_t<U>, unexpected<E>>>>
    constexpr expected(U&& u)
        : v_(std::in_place_index<0>, std::forward<U>(u)) {}
    template <class G>
    constexpr expected(const unexpected<G>& u)
        : v_(std::in_place_index<1>, u.error()) {}
    template <class G>
    constexpr expected(unexpected<G>&& u)
        : v_(std::in_place_index<1>, std::move(u.error())) {}
    constexpr bool has_value() const noexcept { return v_.index() == 0; }
    constexpr explicit operator bool() const noexcept { return has_value(); }
    constexpr T& operator*() & { return *std::get_if<0>(&v_); }
    constexpr const T& operator*() const& { return *std::get_if<0>(&v_); }
    constexpr T&& operator*() && { return std::move(*std::get_if<0>(&v_)); }
    constexpr T* operator->() { return std::get_if<0>(&v_); }
    constexpr const T* operator->() const { return std::get_if<0>(&v_); }
    constexpr T& value() & { return std::get<0>(v_); }
    constexpr const T& value() const& { return std::get<0>(v_); }
    constexpr E& error() & { return *std::get_if<1>(&v_); }
    constexpr const E& error() const& { return *std::get_if<1>(&v_); }
    template <class U>
    constexpr T value_or(U&& u) const& {
        return has_value() ? **this : static_cast<T>(std::forward<U>(u));
    }

private:
    std::variant<T, E> v_;
};

template <class E>
class expected<void, E> {
public:
    using value_type = void;
    using error_type = E;
    constexpr expected() = default;
    template <class G>
    constexpr expected(const unexpected<G>& u)
        : e_(u.error())
        , has_(false) {}
    template <class G>
    constexpr expected(unexpected<G>&& u)
        : e_(std::move(u.error()))
        , has_(false) {}
    constexpr bool has_value() const noexcept { return has_; }
    constexpr explicit operator bool() const noexcept { return has_; }
    constexpr void operator*() const noexcept {}
    constexpr E& error() & { return e_; }
    constexpr const E& error() const& { return e_; }

private:
    E e_{};
    bool has_ = true;
};

} // namespace std
#endif
