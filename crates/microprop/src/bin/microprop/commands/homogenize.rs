//! `microprop homogenize`.

use anyhow::{Context, Result};

use crate::flags::{ControlArg, HomogenizeArgs};

pub(crate) fn homogenize(args: HomogenizeArgs) -> Result<()> {
    use microprop_homogenization::solver::Control;
    let volume = microprop::homogenize::read_volume(&args.volume)?;
    let solver = args.solver.solver();
    let run = |c: Control| {
        solver
            .solve(&volume.view(), c)
            .with_context(|| format!("homogenizing {}", args.volume.display()))
    };
    let mixed = (args.control != ControlArg::Strain)
        .then(|| run(Control::Mixed))
        .transpose()?;
    let strain = (args.control != ControlArg::Mixed)
        .then(|| run(Control::Strain))
        .transpose()?;
    let vf = volume.iter().filter(|&&v| v == 1).count() as f64 / volume.len() as f64;
    let iterations: usize = mixed.iter().chain(&strain).map(|s| s.iterations).sum();
    let e11 = mixed.as_ref().map(|s| s.mean_stress[0]);
    let c1111 = strain.as_ref().map(|s| s.mean_stress[0]);
    if args.json {
        let obj = serde_json::json!({
            "E11": e11, "C1111": c1111, "volume_fraction": vf, "iterations": iterations
        });
        println!("{obj}");
    } else {
        println!(
            "{}: volume fraction {vf:.4}, {iterations} CG iterations",
            args.volume.display()
        );
        if let Some(e) = e11 {
            println!("  E11   = {e:.6}  (uniaxial stress, 1/S*1111)");
        }
        if let Some(c) = c1111 {
            println!("  C1111 = {c:.6}  (uniaxial strain)");
        }
    }
    Ok(())
}
