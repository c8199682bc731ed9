//! FFT statistics against direct sums over every displacement and placement.

use microprop_correlations::{Cutoff, Error, Order, TwoPoint, flatten};
use ndarray::{ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const TOL: f64 = 1e-12;

/// `Σ_x A(x) B(x + r) / (number of valid placements)` by brute force.
fn direct(
    a: &ArrayD<f64>,
    b: &ArrayD<f64>,
    mask: Option<&ArrayD<bool>>,
    cut: usize,
    periodic: bool,
) -> Option<ArrayD<f64>> {
    let shape = a.shape().to_vec();
    let d = shape.len();
    let side = 2 * cut - 1;
    let mut out = ArrayD::zeros(IxDyn(&vec![side; d]));
    for (m_idx, v) in out.indexed_iter_mut() {
        let r: Vec<isize> = (0..d)
            .map(|k| m_idx[k] as isize - (cut as isize - 1))
            .collect();
        let (mut num, mut den) = (0.0, 0.0);
        for (x, &ax) in a.indexed_iter() {
            let mut y = Vec::with_capacity(d);
            let mut inside = true;
            for k in 0..d {
                let yk = x[k] as isize + r[k];
                let n = shape[k] as isize;
                if periodic {
                    y.push(yk.rem_euclid(n) as usize);
                } else if (0..n).contains(&yk) {
                    y.push(yk as usize);
                } else {
                    inside = false;
                }
            }
            if !inside {
                continue;
            }
            let y = IxDyn(&y);
            if mask.is_some_and(|m| !m[&x] || !m[&y]) {
                continue;
            }
            num += ax * b[&y];
            den += 1.0;
        }
        if den == 0.0 {
            return None;
        }
        *v = num / den;
    }
    Some(out)
}

fn random_labels(rng: &mut ChaCha8Rng, shape: &[usize], phases: u16) -> ArrayD<u16> {
    ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(0..phases))
}

fn indicator(labels: &ArrayD<u16>, phase: u16, mask: Option<&ArrayD<bool>>) -> ArrayD<f64> {
    let mut out = labels.mapv(|v| f64::from(u8::from(v == phase)));
    if let Some(m) = mask {
        out.zip_mut_with(m, |v, &inside| {
            if !inside {
                *v = 0.0
            }
        });
    }
    out
}

fn max_abs_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

const SHAPES: &[&[usize]] = &[
    &[13],
    &[5, 7],
    &[8, 6],
    &[9, 9],
    &[12, 10],
    &[4, 5, 6],
    &[5, 5, 5],
    &[6, 4, 7],
    &[11, 17],
    &[7, 3, 11],
];

#[test]
fn labelled_phases_match_direct_sums() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for &shape in SHAPES {
        for periodic in [false, true] {
            for use_mask in [false, true] {
                for cutoff in [Cutoff::Half, Cutoff::Max, Cutoff::Value(2)] {
                    let labels = random_labels(&mut rng, shape, 3);
                    let mask = use_mask
                        .then(|| ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_bool(0.8)));
                    let tp = TwoPoint::new(periodic).with_cutoff(cutoff);
                    let cut = tp.resolve_cutoff(shape).unwrap();
                    let pairs = [(1u16, 1u16), (1, 0), (0, 2), (2, 2)];
                    let got = tp.phases(&labels, &pairs, mask.as_ref().map(|m| m.view()).as_ref());
                    let want: Option<Vec<_>> = pairs
                        .iter()
                        .map(|&(p, q)| {
                            let a = indicator(&labels, p, mask.as_ref());
                            let b = indicator(&labels, q, mask.as_ref());
                            direct(&a, &b, mask.as_ref(), cut, periodic)
                        })
                        .collect();
                    match (got, want) {
                        (Ok(got), Some(want)) => {
                            for (g, w) in got.iter().zip(&want) {
                                let diff = max_abs_diff(g.values(), w);
                                assert!(
                                    diff <= TOL,
                                    "{shape:?} periodic={periodic} mask={use_mask} {cutoff:?}: {diff}"
                                );
                            }
                        }
                        (Err(Error::NoValidPlacement { .. }), None) => {}
                        (got, want) => panic!(
                            "{shape:?} periodic={periodic} mask={use_mask}: {got:?} vs {}",
                            want.is_some()
                        ),
                    }
                }
            }
        }
    }
}

#[test]
fn real_fields_match_direct_sums() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for &shape in SHAPES {
        for periodic in [false, true] {
            let a = ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(-1.0..1.0));
            let b = ArrayD::from_shape_fn(IxDyn(shape), |_| rng.random_range(0.0..2.0));
            let tp = TwoPoint::new(periodic).with_cutoff(Cutoff::Max);
            let cut = tp.resolve_cutoff(shape).unwrap();
            let auto = tp.auto(&a).unwrap();
            let cross = tp.cross(&a, &b).unwrap();
            let want_auto = direct(&a, &a, None, cut, periodic).unwrap();
            let want_cross = direct(&a, &b, None, cut, periodic).unwrap();
            assert!(max_abs_diff(auto.values(), &want_auto) <= TOL, "{shape:?}");
            assert!(
                max_abs_diff(cross.values(), &want_cross) <= TOL,
                "{shape:?}"
            );
        }
    }
}

#[test]
fn convention_is_a_at_x_b_at_x_plus_r() {
    // A single A pixel at (1, 1) and a single B pixel at (1, 3): only r = (0, +2) is non-zero.
    let mut labels = ArrayD::zeros(IxDyn(&[4, 5]));
    labels[[1, 1]] = 1u16;
    labels[[1, 3]] = 2u16;
    let map = &TwoPoint::non_periodic()
        .with_cutoff(Cutoff::Value(3))
        .phases(&labels, &[(1u16, 2u16)], None)
        .unwrap()[0];
    assert_eq!(map.at(&[0, 2]), Some(1.0 / (4.0 * 3.0)));
    assert_eq!(map.at(&[0, -2]), Some(0.0));
    assert_eq!(map.at(&[0, 3]), None);
}

#[test]
fn volume_fraction_at_zero_and_phase_symmetry() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let labels = random_labels(&mut rng, &[31, 40], 2);
    let vf = labels.iter().filter(|&&v| v == 1).count() as f64 / labels.len() as f64;
    let tp = TwoPoint::periodic();
    let maps = tp.phases(&labels, &[(1u16, 1u16), (0, 0)], None).unwrap();
    assert_eq!(maps[0].at(&[0, 0]), Some(vf));
    // Two phases: S00(r) = 1 − 2f + S11(r), exactly for integer counts.
    for (s00, s11) in maps[1].values().iter().zip(maps[0].values()) {
        assert!((s00 - (1.0 - 2.0 * vf + s11)).abs() < 1e-15);
    }
}

#[test]
fn crop_and_flatten_orders() {
    let values = ArrayD::from_shape_fn(IxDyn(&[5, 5]), |i| (10 * i[0] + i[1]) as f64);
    let map = microprop_correlations::CorrelationMap::from_values(values).unwrap();
    let c = map.centre_crop(3).unwrap();
    assert_eq!(c.values()[[0, 0]], 11.0);
    assert_eq!(c.flatten(Order::RowMajor)[..3], [11.0, 12.0, 13.0]);
    assert_eq!(c.flatten(Order::ColumnMajor)[..3], [11.0, 21.0, 31.0]);
    let v3 = ArrayD::from_shape_fn(IxDyn(&[2, 2, 2]), |i| {
        (100 * i[0] + 10 * i[1] + i[2]) as f64
    });
    assert_eq!(
        flatten(&v3.view(), Order::ColumnMajor),
        vec![0.0, 100.0, 10.0, 110.0, 1.0, 101.0, 11.0, 111.0]
    );
    assert!(map.centre_crop(4).is_err());
    assert!(map.centre_crop(7).is_err());
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let images: Vec<ArrayD<u16>> = (0..24)
        .map(|i| random_labels(&mut rng, &[20 + i % 5, 23], 2))
        .collect();
    let views: Vec<_> = images.iter().map(|i| i.view()).collect();
    let tp = TwoPoint::non_periodic();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| tp.phases_batch(&views, &[(1u16, 0u16)], &|| {}))
    };
    let one: Vec<_> = run(1).into_iter().map(Result::unwrap).collect();
    let four: Vec<_> = run(4).into_iter().map(Result::unwrap).collect();
    assert_eq!(one, four);
}

#[test]
fn two_phase_cross_matches_direct_sums() {
    // Two-phase images take the B = 1 − A shortcut (box sums minus autocorrelation).
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for &shape in SHAPES {
        for periodic in [false, true] {
            for cutoff in [Cutoff::Half, Cutoff::Max] {
                let labels = random_labels(&mut rng, shape, 2).mapv(|v| v * 255);
                let tp = TwoPoint::new(periodic).with_cutoff(cutoff);
                let cut = tp.resolve_cutoff(shape).unwrap();
                let got = tp
                    .phases(&labels, &[(255u16, 0u16), (0, 255)], None)
                    .unwrap();
                for (map, (p, q)) in got.iter().zip([(255, 0), (0, 255)]) {
                    let a = indicator(&labels, p, None);
                    let b = indicator(&labels, q, None);
                    let want = direct(&a, &b, None, cut, periodic).unwrap();
                    let diff = max_abs_diff(map.values(), &want);
                    assert!(
                        diff <= TOL,
                        "{shape:?} periodic={periodic} {cutoff:?}: {diff}"
                    );
                }
            }
        }
    }
}
