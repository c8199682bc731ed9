//! Solver and generator checks: analytic laminate, homogeneous medium, mixed control against
//! six strain solves, symmetry of C*, Voigt/Reuss bounds, thread independence, exact volume
//! fractions and reproducibility.

#![allow(clippy::needless_range_loop)] // 6 × 6 matrix algebra reads best with indices.

use microprop_homogenization::generator::{
    Kernel, SampleSpec, draw_spec, generate, pymks_kernel_value, sample_rng,
};
use microprop_homogenization::solver::{Control, Phase, Scheme, Solver};
use ndarray::Array3;

fn tight(scheme: Scheme) -> Solver {
    Solver {
        scheme,
        tol: 1e-12,
        max_iter: 2000,
        ..Solver::default()
    }
}

fn m_modulus(p: Phase) -> f64 {
    let (l, m) = p.lame();
    l + 2.0 * m
}

#[test]
fn laminate_matches_analytic_c1111() {
    // The Fourier scheme zeroes the Nyquist planes of even grids, where a piecewise-constant
    // laminate has content, so its analytic check is on odd grids (51³ is odd).
    for (scheme, sizes) in [(Scheme::Willot, [8, 9]), (Scheme::Fourier, [9, 11])] {
        for n in sizes {
            // Layers normal to x (axis 0): 3 stiff planes, the rest soft.
            let v = Array3::from_shape_fn((n, n, n), |(i, _, _)| u8::from(i < 3));
            let s = tight(scheme);
            let c = s.solve(&v.view(), Control::Strain).unwrap().mean_stress[0];
            let f = 3.0 / n as f64;
            let want = 1.0 / (f / m_modulus(s.stiff) + (1.0 - f) / m_modulus(s.soft));
            assert!(
                (c - want).abs() <= 1e-10 * want,
                "{scheme:?} n={n}: {c} vs {want}"
            );
        }
    }
}

#[test]
fn homogeneous_medium_returns_its_own_moduli() {
    let s = tight(Scheme::Willot);
    for label in [0u8, 1] {
        let v = Array3::from_elem((6, 7, 5), label);
        let p = if label == 1 { s.stiff } else { s.soft };
        let c = s.solve(&v.view(), Control::Strain).unwrap().mean_stress[0];
        let e = s.solve(&v.view(), Control::Mixed).unwrap().mean_stress[0];
        assert!((c - m_modulus(p)).abs() < 1e-10 * c);
        assert!((e - p.young).abs() < 1e-10 * e, "{e} vs {}", p.young);
    }
}

/// Inverse of a 6 × 6 matrix (Gauss–Jordan with partial pivoting).
fn inverse6(m: [[f64; 6]; 6]) -> [[f64; 6]; 6] {
    let mut a = [[0.0; 12]; 6];
    for i in 0..6 {
        a[i][..6].copy_from_slice(&m[i]);
        a[i][6 + i] = 1.0;
    }
    for c in 0..6 {
        let p = (c..6)
            .max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs()))
            .unwrap();
        a.swap(c, p);
        let d = a[c][c];
        a[c].iter_mut().for_each(|v| *v /= d);
        for r in 0..6 {
            if r != c {
                let f = a[r][c];
                let row = a[c];
                a[r].iter_mut().zip(row).for_each(|(v, w)| *v -= f * w);
            }
        }
    }
    let mut inv = [[0.0; 6]; 6];
    for i in 0..6 {
        inv[i].copy_from_slice(&a[i][6..]);
    }
    inv
}

#[test]
fn mixed_control_equals_inverse_compliance_and_c_is_symmetric() {
    let spec = SampleSpec {
        kernel: Kernel::Gaussian {
            sigma: [3.0, 1.0, 1.5],
        },
        volume_fraction: 0.45,
    };
    let v = generate(16, &spec, &mut sample_rng(3, 1)).unwrap();
    let labels: Vec<u8> = v.iter().copied().collect();
    let s = tight(Scheme::Willot);
    let mut c = [[0.0; 6]; 6];
    for j in 0..6 {
        let mut e = [0.0; 6];
        e[j] = 1.0;
        let sol = s.solve_with(&labels, [16; 3], e, Control::Strain).unwrap();
        for i in 0..6 {
            c[i][j] = sol.mean_stress[i];
        }
    }
    // Energy symmetry in tensor components: w_i C_ij = w_j C_ji (shears weighted twice).
    let w = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0];
    for i in 0..6 {
        for j in 0..6 {
            let (a, b) = (w[i] * c[i][j], w[j] * c[j][i]);
            assert!(
                (a - b).abs() <= 1e-8 * c[0][0],
                "C not symmetric at ({i},{j}): {a} vs {b}"
            );
        }
    }
    let e11 = 1.0 / inverse6(c)[0][0];
    let mixed = s.solve(&v.view(), Control::Mixed).unwrap();
    assert!(
        (mixed.mean_stress[0] - e11).abs() <= 1e-8 * e11,
        "{} vs {e11}",
        mixed.mean_stress[0]
    );
    for k in 1..6 {
        assert!(
            mixed.mean_stress[k].abs() < 1e-8 * e11,
            "mean stress {k} = {}",
            mixed.mean_stress[k]
        );
    }
    assert!((mixed.mean_strain[0] - 1.0).abs() < 1e-12);
}

#[test]
fn generated_samples_respect_voigt_and_reuss_bounds() {
    let s = Solver::default();
    let bulk_shear = |p: Phase| {
        let (l, m) = p.lame();
        (l + 2.0 * m / 3.0, m)
    };
    for i in 0..50 {
        let mut rng = sample_rng(2025, i);
        let spec = draw_spec(&mut rng);
        let v = generate(12, &spec, &mut rng).unwrap();
        let f = v.iter().filter(|&&x| x == 1).count() as f64 / v.len() as f64;
        let e11 = s.solve(&v.view(), Control::Mixed).unwrap().mean_stress[0];
        let reuss = 1.0 / (f / s.stiff.young + (1.0 - f) / s.soft.young);
        let ((kh, gh), (ks, gs)) = (bulk_shear(s.stiff), bulk_shear(s.soft));
        let (kv, gv) = (f * kh + (1.0 - f) * ks, f * gh + (1.0 - f) * gs);
        let voigt = 9.0 * kv * gv / (3.0 * kv + gv);
        assert!(
            e11 >= reuss * (1.0 - 1e-6) && e11 <= voigt * (1.0 + 1e-6),
            "sample {i}: {e11} not in [{reuss}, {voigt}]"
        );
    }
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let mut rng = sample_rng(9, 4);
    let spec = draw_spec(&mut rng);
    let v = generate(12, &spec, &mut rng).unwrap();
    let run = |t: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build()
            .unwrap()
            .install(|| Solver::default().solve(&v.view(), Control::Mixed).unwrap())
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn generator_volume_fraction_reproducibility_and_kernel() {
    for i in 0..10 {
        let spec = draw_spec(&mut sample_rng(11, i));
        let a = generate(15, &spec, &mut sample_rng(11, 1000 + i)).unwrap();
        let b = generate(15, &spec, &mut sample_rng(11, 1000 + i)).unwrap();
        assert_eq!(a, b, "same seed, same sample");
        let ones = a.iter().filter(|&&x| x == 1).count();
        assert_eq!(
            ones,
            (spec.volume_fraction * 15f64.powi(3)).round() as usize
        );
    }
    let c = generate(
        15,
        &draw_spec(&mut sample_rng(11, 0)),
        &mut sample_rng(11, 1),
    )
    .unwrap();
    let d = generate(
        15,
        &draw_spec(&mut sample_rng(11, 0)),
        &mut sample_rng(11, 2),
    )
    .unwrap();
    assert_ne!(c, d, "different streams, different samples");
    // PyMKS: exp(−2π² Σ (k/g)²), the Gaussian of std g/(2π) at integer offsets.
    let g = [10, 4, 7];
    for k in [[0i64, 0, 0], [1, -2, 3], [-5, 1, -3]] {
        let s = k.iter().zip(g).map(|(&ki, gi)| {
            let sd = gi as f64 / (2.0 * std::f64::consts::PI);
            (ki as f64).powi(2) / (2.0 * sd * sd)
        });
        let want = (-s.sum::<f64>()).exp();
        assert!((pymks_kernel_value(k, g) - want).abs() < 1e-15);
    }
    let bad = SampleSpec {
        kernel: Kernel::Pymks { grain: [0, 3, 3] },
        volume_fraction: 0.5,
    };
    assert!(generate(8, &bad, &mut sample_rng(0, 0)).is_err());
    let two = Array3::from_elem((4, 4, 4), 2u8);
    assert!(
        Solver::default()
            .solve(&two.view(), Control::Mixed)
            .is_err()
    );
}

#[test]
fn agrees_with_the_numpy_reference_solver() {
    use ndarray_npy::ReadNpyExt;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = std::fs::read_to_string(dir.join("reference.txt")).unwrap();
    let mut checked = 0;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let file = std::fs::File::open(dir.join(format!("vol_{}.npy", f[0]))).unwrap();
        let v = Array3::<u8>::read_npy(file).unwrap();
        let scheme = if f[1] == "willot" {
            Scheme::Willot
        } else {
            Scheme::Fourier
        };
        let s = tight(scheme);
        for (control, want) in [(Control::Mixed, f[2]), (Control::Strain, f[3])] {
            let want: f64 = want.parse().unwrap();
            let got = s.solve(&v.view(), control).unwrap().mean_stress[0];
            assert!(
                (got - want).abs() <= 1e-8 * want,
                "{line}: {control:?} {got} vs {want}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 12);
}
