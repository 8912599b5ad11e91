//! Runtime CPU feature detection, and a macro that compiles a kernel twice: once for AVX2+FMA
//! (chosen when the CPU has them) and once portably, from the same `#[inline(always)]` body.

use std::sync::OnceLock;

/// Whether to use the AVX2+FMA kernels: the CPU runs AVX2 and FMA, and `SOMA_CPU_PORTABLE` is not
/// set (setting it runs the portable kernels, to test or compare them). Decided once per process.
#[inline]
pub fn has_avx2_fma() -> bool {
    static WIDE: OnceLock<bool> = OnceLock::new();
    *WIDE.get_or_init(|| std::env::var_os("SOMA_CPU_PORTABLE").is_none() && cpu_has_avx2_fma())
}

fn cpu_has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `f` built with AVX2 and FMA enabled: LLVM inlines `f` (and the `#[inline(always)]`
/// functions it calls) into this function, so its loops are vectorised 8 lanes wide. For generic
/// code, which `multiversion!` does not take.
///
/// # Safety
/// The CPU must run AVX2 and FMA (`has_avx2_fma`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
pub unsafe fn with_avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `multiversion!(fn name(args) -> ret = body_fn;)` defines `name`, which calls `body_fn` compiled
/// with AVX2+FMA enabled when the CPU supports them, and the portable build otherwise.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:path;) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn wide($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if $crate::cpu::simd::has_avx2_fma() {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { wide($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}

pub(crate) use multiversion;
