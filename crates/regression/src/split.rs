//! Train/test splitters that give the same index sets as scikit-learn for the same seed.
//!
//! scikit-learn shuffles with `numpy.random.RandomState(seed)`: MT19937 seeded with
//! `init_genrand(seed)`, and a Fisher–Yates shuffle whose bounded integers come from numpy's
//! legacy masked rejection sampling. Both are reproduced here.

use rand_mt::Mt;

use crate::{Error, Result};

/// numpy's legacy `RandomState` for the draws the splitters need.
#[derive(Debug, Clone)]
pub struct NumpyRandomState {
    mt: Mt,
}

impl NumpyRandomState {
    /// `numpy.random.RandomState(seed)`.
    pub fn new(seed: u32) -> Self {
        Self { mt: Mt::new(seed) }
    }

    /// A uniform integer in `0..=max` (numpy's legacy `random_interval`).
    pub fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        for shift in [1, 2, 4, 8, 16, 32] {
            mask |= mask >> shift;
        }
        loop {
            let v = if max <= u64::from(u32::MAX) {
                u64::from(self.mt.next_u32()) & mask
            } else {
                ((u64::from(self.mt.next_u32()) << 32) | u64::from(self.mt.next_u32())) & mask
            };
            if v <= max {
                return v;
            }
        }
    }

    /// A uniform double in `[0, 1)` with 53 random bits (`RandomState.random_sample`).
    pub fn random_sample(&mut self) -> f64 {
        let a = self.mt.next_u32() >> 5;
        let b = self.mt.next_u32() >> 6;
        (f64::from(a) * 67_108_864.0 + f64::from(b)) / 9_007_199_254_740_992.0
    }

    /// A uniform double in `[low, high)` (`RandomState.uniform(low, high)`).
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// Shuffles in place like `RandomState.shuffle`.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.interval(i as u64) as usize;
            items.swap(i, j);
        }
    }

    /// `RandomState.permutation(n)`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        self.shuffle(&mut v);
        v
    }
}

/// One split: training and test indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// Training indices.
    pub train: Vec<usize>,
    /// Test indices.
    pub test: Vec<usize>,
}

/// scikit-learn's `KFold(n_splits, shuffle, random_state)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KFold {
    n_splits: usize,
    shuffle: Option<u32>,
}

impl KFold {
    /// `n_splits ≥ 2` folds without shuffling.
    pub fn new(n_splits: usize) -> Result<Self> {
        if n_splits < 2 {
            return Err(Error::Parameter {
                name: "n_splits",
                reason: format!("{n_splits}; at least 2 folds are needed"),
            });
        }
        Ok(Self {
            n_splits,
            shuffle: None,
        })
    }

    /// Shuffles with `RandomState(seed)` first.
    pub fn shuffled(mut self, seed: u32) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// Number of folds.
    pub fn n_splits(&self) -> usize {
        self.n_splits
    }

    /// The shuffle seed, if shuffled.
    pub fn seed(&self) -> Option<u32> {
        self.shuffle
    }

    /// The folds of `n` samples; both index lists of every split are ascending, as
    /// scikit-learn's.
    pub fn split(&self, n: usize) -> Result<Vec<Split>> {
        if n < self.n_splits {
            return Err(Error::TooFewSamples {
                samples: n,
                folds: self.n_splits,
            });
        }
        let order = match self.shuffle {
            Some(seed) => NumpyRandomState::new(seed).permutation(n),
            None => (0..n).collect(),
        };
        let mut start = 0;
        let mut splits = Vec::with_capacity(self.n_splits);
        for size in fold_sizes(n, self.n_splits) {
            let mut in_test = vec![false; n];
            order[start..start + size]
                .iter()
                .for_each(|&i| in_test[i] = true);
            start += size;
            let (test, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| in_test[i]);
            splits.push(Split { train, test });
        }
        Ok(splits)
    }
}

/// scikit-learn's `GroupKFold(n_splits, shuffle, random_state)`: whole groups per fold.
/// Without shuffling the largest groups go first, each to the fold with the fewest samples so
/// far; with a seed the groups are permuted and cut into `n_splits` nearly equal runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupKFold {
    n_splits: usize,
    shuffle: Option<u32>,
}

/// Splitters: plain K-fold, or folds of whole groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Folds {
    /// scikit-learn's `KFold`.
    KFold(KFold),
    /// scikit-learn's `GroupKFold`.
    GroupKFold(GroupKFold),
    /// scikit-learn's `LeaveOneGroupOut`: one fold per group, groups in ascending order.
    LeaveOneGroupOut,
}

impl GroupKFold {
    /// `n_splits ≥ 2` folds, balanced by size.
    pub fn new(n_splits: usize) -> Result<Self> {
        KFold::new(n_splits)?;
        Ok(Self {
            n_splits,
            shuffle: None,
        })
    }

    /// Permutes the groups with `RandomState(seed)` instead of balancing by size.
    pub fn shuffled(mut self, seed: u32) -> Self {
        self.shuffle = Some(seed);
        self
    }

    /// Number of folds.
    pub fn n_splits(&self) -> usize {
        self.n_splits
    }

    /// The permutation seed, if shuffled.
    pub fn seed(&self) -> Option<u32> {
        self.shuffle
    }

    /// The folds of samples whose groups are `groups` (any ids; they are ordered as
    /// `np.unique` orders the group labels).
    pub fn split(&self, groups: &[usize]) -> Result<Vec<Split>> {
        let (groups, unique) = group_ids(groups);
        let groups = groups.as_slice();
        let g = unique.len();
        if g < self.n_splits {
            return Err(Error::TooFewGroups {
                groups: g,
                folds: self.n_splits,
            });
        }
        let mut fold_of = vec![0usize; g];
        match self.shuffle {
            Some(seed) => {
                let order = NumpyRandomState::new(seed).permutation(g);
                let mut start = 0;
                for (fold, size) in fold_sizes(g, self.n_splits).enumerate() {
                    for &grp in &order[start..start + size] {
                        fold_of[grp] = fold;
                    }
                    start += size;
                }
            }
            None => {
                let mut sizes = vec![0usize; g];
                for &grp in groups {
                    sizes[grp] += 1;
                }
                // np.argsort(sizes, kind="stable")[::-1]: largest first, later groups first
                // among equal sizes.
                let mut order: Vec<usize> = (0..g).collect();
                order.sort_by_key(|&i| sizes[i]);
                order.reverse();
                let mut load = vec![0usize; self.n_splits];
                for grp in order {
                    // np.argmin: the first lightest fold.
                    let lightest = (0..self.n_splits)
                        .min_by_key(|&f| (load[f], f))
                        .unwrap_or(0);
                    load[lightest] += sizes[grp];
                    fold_of[grp] = lightest;
                }
            }
        }
        Ok((0..self.n_splits)
            .map(|fold| {
                let (test, train) = (0..groups.len()).partition(|&i| fold_of[groups[i]] == fold);
                Split { train, test }
            })
            .collect())
    }
}

impl Folds {
    /// The folds of `n` samples; `groups` (one id per sample) for the group splitters.
    pub fn split(&self, n: usize, groups: Option<&[usize]>) -> Result<Vec<Split>> {
        let groups = || match groups {
            Some(g) if g.len() == n => Ok(g),
            Some(g) => Err(Error::Shape {
                what: "groups vs samples",
                left: g.len(),
                right: n,
            }),
            None => Err(Error::Parameter {
                name: "groups",
                reason: "group folds need a group for every sample".into(),
            }),
        };
        match self {
            Folds::KFold(k) => k.split(n),
            Folds::GroupKFold(k) => k.split(groups()?),
            Folds::LeaveOneGroupOut => {
                let (groups, unique) = group_ids(groups()?);
                let g = unique.len();
                if g < 2 {
                    return Err(Error::TooFewGroups {
                        groups: g,
                        folds: 2,
                    });
                }
                Ok((0..g)
                    .map(|grp| {
                        let (test, train) = (0..n).partition(|&i| groups[i] == grp);
                        Split { train, test }
                    })
                    .filter(|s: &Split| !s.test.is_empty())
                    .collect())
            }
        }
    }

    /// Number of folds (`None` for one per group).
    pub fn n_splits(&self) -> Option<usize> {
        match self {
            Folds::KFold(k) => Some(k.n_splits()),
            Folds::GroupKFold(k) => Some(k.n_splits),
            Folds::LeaveOneGroupOut => None,
        }
    }
}

/// Sizes of `k` nearly equal consecutive runs of `n` items, the larger first
/// (`np.array_split`, and `KFold`'s fold sizes).
fn fold_sizes(n: usize, k: usize) -> impl Iterator<Item = usize> {
    (0..k).map(move |fold| n / k + usize::from(fold < n % k))
}

/// Group ids `0..g` for group labels, numbered in ascending label order (`np.unique`'s
/// `return_inverse`), and the labels in that order.
pub fn group_ids<T: Ord + Clone>(labels: &[T]) -> (Vec<usize>, Vec<T>) {
    let mut unique: Vec<T> = labels.to_vec();
    unique.sort();
    unique.dedup();
    let ids = labels
        .iter()
        .map(|l| unique.binary_search(l).unwrap_or(0))
        .collect();
    (ids, unique)
}

/// Group ids restricted to some samples, renumbered `0..g'` in the same relative order.
pub fn subset_groups(groups: &[usize], rows: &[usize]) -> Vec<usize> {
    group_ids(&rows.iter().map(|&r| groups[r]).collect::<Vec<_>>()).0
}

/// scikit-learn's `train_test_split(range(n), test_size=…, random_state=seed)` indices:
/// `test = permutation[..ceil(test_size · n)]`, `train` = the rest, in permutation order.
pub fn train_test_split(n: usize, test_size: f64, seed: u32) -> Result<Split> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(Error::Parameter {
            name: "test_size",
            reason: format!("{test_size}; a fraction strictly between 0 and 1 is needed"),
        });
    }
    let n_test = (test_size * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(Error::TooFewSamples {
            samples: n,
            folds: 2,
        });
    }
    let perm = NumpyRandomState::new(seed).permutation(n);
    Ok(Split {
        test: perm[..n_test].to_vec(),
        train: perm[n_test..].to_vec(),
    })
}
