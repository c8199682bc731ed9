//! How the kernels share out their work: the threads they cut it across (rayon's, or one
//! inside a part of [`by_images`]), the sizes below which they run uncut, and [`by_images`],
//! which runs a batch as one part of images per thread.

use std::cell::Cell;

use burn::tensor::{Device, Tensor};
use rayon::prelude::*;

/// Elements per parallel chunk of an elementwise kernel.
pub(super) const CHUNK: usize = 1 << 14;

/// Work (m·n·k) below which a matrix product runs on one thread.
pub(super) const PARALLEL_WORK: usize = 1 << 22;

thread_local! {
    /// Whether this thread runs one part of [`by_images`], the kernels uncut on it.
    static WHOLE: Cell<bool> = const { Cell::new(false) };
}

/// Threads the kernels cut their work across: rayon's, or one inside a part of [`by_images`].
pub(super) fn threads() -> usize {
    if WHOLE.get() {
        1
    } else {
        rayon::current_num_threads()
    }
}

/// Runs `f` with the kernels uncut on this thread, restoring the previous setting afterwards,
/// also when `f` panics (the panic reaches the caller).
fn whole<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            WHOLE.set(self.0);
        }
    }
    let _restore = Restore(WHOLE.replace(true));
    f()
}

/// Runs `forward` on a batch of images `[n, c, h, w]` and stacks its per-image rows in order.
/// On the CPU with `t > 1` threads and `n ≥ t`, the first `t·⌊n / t⌋` images run as `t`
/// equal parts at once, one per thread, each kernel uncut on its part's thread, so that no
/// layer waits for the other threads; the remaining `n mod t` images run afterwards with
/// every kernel cut across the threads. Anywhere else `forward` runs once on the whole batch.
pub fn by_images<E: Send>(
    x: Tensor<4>,
    forward: impl Fn(Tensor<4>) -> Result<Tensor<2>, E> + Sync,
) -> Result<Tensor<2>, E> {
    let t = threads();
    let n = x.dims()[0];
    if x.device() != Device::flex() || t <= 1 || n < t {
        return forward(x);
    }
    let per = n / t;
    let parts: Vec<Tensor<4>> = (0..t).map(|i| x.clone().narrow(0, i * per, per)).collect();
    let rest = (n > t * per).then(|| x.narrow(0, t * per, n - t * per));
    let mut rows = parts
        .into_par_iter()
        .map(|part| whole(|| forward(part)))
        .collect::<Result<Vec<_>, E>>()?;
    if let Some(rest) = rest {
        rows.push(forward(rest)?);
    }
    Ok(Tensor::cat(rows, 0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::test_util::{pool, random, rel};
    use crate::cpu::{gelu, linear};

    #[test]
    fn by_images_runs_equal_parts_whole_and_the_rest_cut() {
        use std::sync::Mutex;
        let w = random([512, 3000]);
        let b = random([3000]);
        // A linear layer and GELU per image, noting the batch and the threads its kernels saw.
        let seen = Mutex::new(Vec::new());
        let forward = |x: Tensor<4>| -> Result<Tensor<2>, String> {
            let [n, c, h, wd] = x.dims();
            seen.lock().expect("not poisoned").push((n, threads()));
            let y = linear(x.reshape([n, c * h * wd]), &w, Some(&b)).map_err(|_| "not CPU")?;
            gelu(y).map_err(|_| "not CPU".to_string())
        };
        for (threads_in_pool, n, calls) in [
            (2, 5, vec![(2, 1), (2, 1), (1, 2)]),
            (2, 4, vec![(2, 1), (2, 1)]),
            (3, 7, vec![(2, 1), (2, 1), (2, 1), (1, 3)]),
            (3, 2, vec![(2, 3)]),
            (1, 5, vec![(5, 1)]),
        ] {
            let x = random([n, 2, 16, 16]);
            let want = pool(1).install(|| forward(x.clone())).expect("runs");
            seen.lock().expect("not poisoned").clear();
            let p = pool(threads_in_pool);
            let got = p.install(|| by_images(x.clone(), forward)).expect("runs");
            let e = rel(got, want);
            assert!(e < 1e-6, "{threads_in_pool} threads, batch {n}: {e}");
            let mut seen_now = std::mem::take(&mut *seen.lock().expect("not poisoned"));
            seen_now.sort_by_key(|&(batch, t)| (std::cmp::Reverse(batch), t));
            assert_eq!(seen_now, calls, "{threads_in_pool} threads, batch {n}");
            // Every worker cuts kernels again afterwards.
            assert!(
                p.broadcast(|_| threads())
                    .iter()
                    .all(|&t| t == threads_in_pool)
            );
        }
        // An error of one part is the result, and leaves no worker uncut.
        let p = pool(2);
        let failing = |x: Tensor<4>| -> Result<Tensor<2>, String> {
            if x.dims()[0] == 1 {
                return Err("part of one".into());
            }
            forward(x)
        };
        let err = p.install(|| by_images(random([3, 2, 16, 16]), failing));
        assert_eq!(err.err().as_deref(), Some("part of one"));
        assert!(p.broadcast(|_| threads()).iter().all(|&t| t == 2));
    }
}
