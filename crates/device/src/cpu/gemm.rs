//! Blocked, packed, multithreaded SGEMM around the AVX2+FMA microkernel (`gemm_kernel`).
//!
//! For each block of columns, B is packed once (in parallel) into `NR`-wide panels, stored slice by
//! slice of k (at most `KC` steps each); then one parallel loop runs the tasks (a block of about
//! `MC` rows of A, whole `MR`-row panels, × a group of B panels), each packing its rows of A at
//! most `KC` steps at a time into `MR`-row panels and sweeping the microkernel over its tiles of C.
//! Transposes are strides.
//! Two parallel regions per column block keep small products (the MLP's 128×784×256) from paying
//! for many synchronisations.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::thread::LocalKey;

use rayon::prelude::*;

use super::gemm_kernel::{MR, NR, Tile, kernel};

/// Depth of one packed slice of k: every slice after the first reads C's tiles back and adds to
/// them, and those reads (rows of C a whole row apart, not in cache) were what the host's slow
/// spells slowed most, so up to k = 2048 a product is one slice. Against 256 (panels that stayed
/// in L1, four passes over C at k = 1024), interleaved in one process on the 2-core Zen 4: 1024³
/// +8 to +28% (more in slow minutes), 2048³ +8 to +15% (1024 gained half of that there), one
/// thread +3 to +6%, the MNIST MLP's products +3 to +10%, 512³ the same. Neither the A micro-panel
/// (48 KB at k = 2048) nor the B panel (128 KB) fits L1 then; both stream from L2.
const KC: usize = 2048;
/// Rows of A per task, about (blocks are whole `MR`-row panels, 66 rows at most): a packed block of
/// ~`MC × KC` (~512 KB) stays in the Zen 4's 1 MB L2.
/// With `KC` = 1024, 64 and 128 ran alike, 256 (a 1 MB block) no faster and at times 10% slower.
const MC: usize = 64;
/// Floats of packed B per column block (8 MB).
const B_BLOCK: usize = 1 << 21;
/// Below this many multiply-adds, one thread does the whole product.
const PARALLEL_FLOPS: usize = 1 << 18;

/// A matrix operand: element `(i, j)` is at `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct Operand<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

/// A pointer to a buffer shared by jobs that write disjoint parts of it: tiles of C, or panels of
/// packed B.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: jobs write disjoint parts (blocks of C of distinct row blocks or column groups; packed B
// panels of distinct slices and columns), and the buffer's borrow outlives the parallel loop that
// uses the pointer.
unsafe impl Send for OutPtr {}
// SAFETY: as for Send.
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// The element `offset` past the start (a method, so closures capture the whole `Sync` wrapper).
    fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// `C = A · B` for `A: m × k`, `B: k × n` and a row-major `C: m × n`, which may start
/// uninitialised (like NumPy's, the output is never zeroed first): every element is written.
///
/// Callers must have checked `has_avx2_fma()`, and `m`, `n` and `k` are positive.
pub fn gemm(m: usize, n: usize, k: usize, a: Operand, b: Operand, c: &mut [MaybeUninit<f32>]) {
    assert!(c.len() >= m * n && m > 0 && n > 0 && k > 0, "gemm: output too small or an empty product");
    debug_assert!(super::simd::has_avx2_fma(), "gemm needs AVX2 and FMA");
    // Called from outside the thread pool, the whole product runs on a pool thread, so its two
    // parallel loops cost the caller one hand-off to the pool and back (a wake-up and a sleep each
    // way) instead of two. The bench MLP step on the CPU, interleaved in one process: 5-12%
    // faster (medians of five comparisons 1.27-1.58 -> 1.20-1.45 ms); its products alone +4%;
    // 1024^3 the same.
    let parallel = m * n * k >= PARALLEL_FLOPS;
    if parallel && rayon::current_thread_index().is_none() {
        return rayon::scope(|_| blocked_gemm(m, n, k, a, b, c, parallel));
    }
    blocked_gemm(m, n, k, a, b, c, parallel)
}

/// `gemm` on the calling thread, which joins the pool's threads for its parallel loops when
/// `parallel`.
fn blocked_gemm(m: usize, n: usize, k: usize, a: Operand, b: Operand, c: &mut [MaybeUninit<f32>], parallel: bool) {
    let threads = if parallel { rayon::current_num_threads() } else { 1 };
    // Row blocks: whole MR-row micro-panels, as many blocks as a multiple of the threads (11 on 2
    // threads would leave one idle for a twelfth of the time), and as even as whole panels allow:
    // block b starts at panel `b * panels_m / row_blocks`. A fixed block size with the remainder
    // last gave one thread up to 10% more rows than the other (784 rows: 420 against 364); even
    // blocks, interleaved in one process: 784 x 128 x 256 +2.6 and +3.4%, 2048^3 +1.3 and +2.2%,
    // 1024^3 -2.8 to +4.3%.
    let panels_m = m.div_ceil(MR);
    let row_blocks = m.div_ceil(MC).next_multiple_of(threads).min(panels_m);
    let block_at = |block: usize| (block * panels_m / row_blocks * MR).min(m);
    // Columns per packed B block: all of k for these columns stays within ~8 MB.
    let block_cols = ((B_BLOCK / k) / NR * NR).max(NR);
    // Slices of k of (nearly) equal depth, at most KC: no short last slice.
    let slice = k.div_ceil(k.div_ceil(KC));
    let out = OutPtr(c.as_mut_ptr().cast::<f32>());
    with_buffer(&PACKED_B, n.min(block_cols).next_multiple_of(NR) * k, |packed_b| {
        for jc in (0..n).step_by(block_cols) {
            let ncb = block_cols.min(n - jc);
            let panels = ncb.div_ceil(NR);
            // Enough tasks to keep every thread busy, two a thread: split the columns when there are
            // few row blocks. Each group packs the same rows of A again, so no more groups than
            // that (four tasks a thread split 1024³ in two groups, 1-2% slower than one).
            let groups = (2 * threads).div_ceil(row_blocks).clamp(1, panels);
            let panels_per_group = panels.div_ceil(groups);
            let groups = panels.div_ceil(panels_per_group);
            // Slice-major: the slice of k at p0 holds its panels one after another, panel j at
            // `(p0 * panels + j * kc) * NR`, so a task's sweep over the panels of one slice reads one
            // contiguous block (with one slice, k up to `KC`, the same as panel by panel). Measured
            // with 256-deep slices, against each panel holding all of k (its slices a whole panel
            // apart): 2048³ 4-7% faster, 1024³ 0.5-2%, the MLP's products the same (runs of both
            // interleaved in one process).
            let pb = &mut packed_b[..panels * NR * k];
            let packed = OutPtr(pb.as_mut_ptr());
            // One job per panel, as the packing reads B column panel by column panel.
            let pack_panel = |j: usize| {
                for p0 in (0..k).step_by(slice) {
                    let kc = slice.min(k - p0);
                    // SAFETY: panel j of the slice at p0 is `kc * NR` floats of `pb` that no other
                    // panel or slice shares, and `pb` outlives this loop.
                    let out =
                        unsafe { std::slice::from_raw_parts_mut(packed.at((p0 * panels + j * kc) * NR), kc * NR) };
                    pack_b(b, jc + j * NR, n, p0, out);
                }
            };
            if parallel {
                (0..panels).into_par_iter().for_each(pack_panel);
            } else {
                (0..panels).for_each(pack_panel);
            }
            let pb = &*pb;
            let task = |t: usize| {
                let (block, group) = (t / groups, t % groups);
                let (i0, j0) = (block_at(block), group * panels_per_group * NR);
                let (mc, nc) = (block_at(block + 1) - i0, (panels_per_group * NR).min(ncb - j0));
                with_buffer(&PACKED_A, mc.div_ceil(MR) * MR * slice, |pa| {
                    for p0 in (0..k).step_by(slice) {
                        let kc = slice.min(k - p0);
                        let pa = &mut pa[..mc.div_ceil(MR) * MR * kc];
                        pack_a(a, p0, kc, i0, mc, pa);
                        for jr in (0..nc).step_by(NR) {
                            let b_panel = &pb[(p0 * panels + (j0 + jr) / NR * kc) * NR..][..NR * kc];
                            for ir in (0..mc).step_by(MR) {
                                let a_panel = &pa[ir * kc..][..MR * kc];
                                let tile = Tile {
                                    ptr: out.at((i0 + ir) * n + jc + j0 + jr),
                                    ldc: n,
                                    rows: MR.min(mc - ir),
                                    cols: NR.min(nc - jr),
                                    accumulate: p0 > 0,
                                };
                                // SAFETY: the CPU has AVX2 and FMA (the caller checked); the panels hold
                                // `MR * kc` and `NR * kc` values; the tile lies inside C (m × n, row
                                // stride n), only this task writes it, and its first slice of k
                                // (p0 = 0) initialised it before later ones add to it.
                                unsafe { kernel(kc, a_panel.as_ptr(), b_panel.as_ptr(), tile) };
                            }
                        }
                    }
                });
            };
            if parallel {
                (0..row_blocks * groups).into_par_iter().for_each(task);
            } else {
                (0..row_blocks * groups).for_each(task);
            }
        }
    });
}

thread_local! {
    /// Packing buffers kept per thread between calls: no allocation, zeroing or page faults per
    /// product. Packed B holds at most `B_BLOCK` floats; packed A at most `MC × KC`.
    static PACKED_A: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    static PACKED_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on `len` floats of this thread's buffer `key` (contents unspecified), or on a fresh
/// buffer when the thread's is already in use (a product started while this thread waits inside
/// another one's parallel loop).
fn with_buffer<R>(key: &'static LocalKey<RefCell<Vec<f32>>>, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

/// Packs rows `i0..i0 + mc` of A's k-slice `p0..p0 + kc` into `MR`-row panels, step-major,
/// zero-padding the last panel.
fn pack_a(a: Operand, p0: usize, kc: usize, i0: usize, mc: usize, out: &mut [f32]) {
    for (panel, dst) in out.chunks_exact_mut(MR * kc).enumerate() {
        let r0 = i0 + panel * MR;
        let rows = MR.min(i0 + mc - r0);
        if a.cs == 1 && rows == MR {
            let base: [&[f32]; MR] = std::array::from_fn(|r| &a.data[(r0 + r) * a.rs + p0..][..kc]);
            for (p, step) in dst.chunks_exact_mut(MR).enumerate() {
                for (d, row) in step.iter_mut().zip(&base) {
                    *d = row[p];
                }
            }
        } else if a.rs == 1 && rows == MR {
            // A transposed: the MR rows of one step are contiguous.
            for (p, step) in dst.chunks_exact_mut(MR).enumerate() {
                step.copy_from_slice(&a.data[r0 + (p0 + p) * a.cs..][..MR]);
            }
        } else {
            for (p, step) in dst.chunks_exact_mut(MR).enumerate() {
                for (r, d) in step.iter_mut().enumerate() {
                    *d = if r < rows { a.data[(r0 + r) * a.rs + (p0 + p) * a.cs] } else { 0.0 };
                }
            }
        }
    }
}

/// Packs columns `j0..j0 + NR` of B, rows (steps of k) `p0..p0 + out.len() / NR`, into one panel,
/// step-major (one step per `NR` values), zero-padding columns at or past `n`.
fn pack_b(b: Operand, j0: usize, n: usize, p0: usize, out: &mut [f32]) {
    let cols = NR.min(n - j0);
    let steps = out.len() / NR;
    if b.rs == 1 && cols == NR {
        // B transposed: each column is contiguous over k. The panel is written step by step from
        // the NR column streams (writing it column by column went over it NR times).
        let columns: [&[f32]; NR] = std::array::from_fn(|c| &b.data[(j0 + c) * b.cs + p0..][..steps]);
        for (p, step) in out.chunks_exact_mut(NR).enumerate() {
            for (d, column) in step.iter_mut().zip(&columns) {
                *d = column[p];
            }
        }
        return;
    }
    if b.rs == 1 {
        // The last, partial panel of a transposed B: column by column (one step-by-step loop for
        // both, zero-filling absent columns, ran the full panels ~10% slower on one thread).
        for c in 0..NR {
            if c < cols {
                let column = &b.data[(j0 + c) * b.cs + p0..][..steps];
                for (step, &v) in out.chunks_exact_mut(NR).zip(column) {
                    step[c] = v;
                }
            } else {
                out.chunks_exact_mut(NR).for_each(|step| step[c] = 0.0);
            }
        }
        return;
    }
    for (p, step) in out.chunks_exact_mut(NR).enumerate() {
        let row = (p0 + p) * b.rs;
        if b.cs == 1 && cols == NR {
            step.copy_from_slice(&b.data[row + j0..][..NR]);
        } else {
            for (c, d) in step.iter_mut().enumerate() {
                *d = if c < cols { b.data[row + (j0 + c) * b.cs] } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Odd shapes, both transposes, one thread or many, and several packed column blocks (the
    /// last shape) agree with a float64 reference.
    #[test]
    fn matches_reference() {
        if !super::super::simd::has_avx2_fma() {
            return;
        }
        for &(m, n, k) in
            &[(1, 1, 1), (7, 17, 5), (37, 29, 300), (97, 130, 257), (128, 10, 784), (200, 33, 520), (7, 700, 3100)]
        {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
                let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 97) as f32 / 48.0 - 1.0).collect();
                let (rsa, csa) = if ta { (1, m) } else { (k, 1) };
                let (rsb, csb) = if tb { (1, k) } else { (n, 1) };
                let mut c = vec![MaybeUninit::new(f32::NAN); m * n];
                gemm(m, n, k, Operand { data: &a, rs: rsa, cs: csa }, Operand { data: &b, rs: rsb, cs: csb }, &mut c);
                // SAFETY: initialised above (NaN, which a missed element would keep).
                let c: Vec<f32> = c.into_iter().map(|v| unsafe { v.assume_init() }).collect();
                for i in 0..m {
                    for j in 0..n {
                        let r: f64 =
                            (0..k).map(|p| f64::from(a[i * rsa + p * csa]) * f64::from(b[p * rsb + j * csb])).sum();
                        let got = f64::from(c[i * n + j]);
                        assert!(
                            (got - r).abs() <= 1e-4 * (1.0 + r.abs()),
                            "{m}x{n}x{k} {ta} {tb} at ({i},{j}): {got} vs {r}"
                        );
                    }
                }
            }
        }
    }
}
