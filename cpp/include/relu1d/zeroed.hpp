// Zero-initialised storage for large arrays of which a run may touch only a small part: the fast
// kernel's slot tables have 2n + 2 entries, and with many points per neuron (n = 1e7, m = 1e3) a
// sweep reads and writes only the few thousand slots in use.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace relu1d {

// Memory from calloc (for large sizes fresh pages, which the system fills with zeros when they
// are first touched) whose elements resize() leaves as calloc made them: zeros that cost neither
// the time to write them nor resident memory for the pages never touched.
template <class T>
struct ZeroedAllocator {
    static_assert(std::is_trivially_copyable<T>::value && std::is_trivially_default_constructible<T>::value,
                  "ZeroedAllocator: for plain numbers");
    using value_type = T;
    ZeroedAllocator() = default;
    template <class U>
    ZeroedAllocator(const ZeroedAllocator<U>&) noexcept {}
    T* allocate(std::size_t count) {
        void* p = std::calloc(count, sizeof(T));
        if (p == nullptr) throw std::bad_alloc();
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t) noexcept { std::free(p); }
    template <class U>
    void construct(U*) noexcept {}  // value-initialisation by resize(): calloc's zero stays
    template <class U, class... Args>
    void construct(U* p, Args&&... args) {
        ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
    }
    template <class U>
    bool operator==(const ZeroedAllocator<U>&) const noexcept { return true; }
    template <class U>
    bool operator!=(const ZeroedAllocator<U>&) const noexcept { return false; }
};

// A vector of zeros after resize() from empty. Grown again after shrinking, it keeps the old
// values beyond the smaller size: size it once, or use it where every entry is written before it
// is read (Lanczos' basis, which grows without a pass of zeros over each new vector).
template <class T>
using ZeroedVector = std::vector<T, ZeroedAllocator<T>>;

}  // namespace relu1d
