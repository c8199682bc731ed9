//! `microprop homogenize`.

use anyhow::{Context, Result};
use microprop::homogenize::Moduli;

use crate::flags::{ControlArg, HomogenizeArgs};

pub(crate) fn homogenize(args: HomogenizeArgs) -> Result<()> {
    let volume = microprop::homogenize::read_volume(&args.volume)?;
    let which = match args.control {
        ControlArg::Mixed => Moduli::E11,
        ControlArg::Strain => Moduli::C1111,
        ControlArg::Both => Moduli::Both,
    };
    let h = microprop::homogenize::homogenize(&args.solver.solver(), &volume.view(), which)
        .with_context(|| format!("homogenizing {}", args.volume.display()))?;
    if args.json {
        println!("{}", serde_json::to_value(h)?);
    } else {
        println!(
            "{}: volume fraction {:.4}, {} CG iterations",
            args.volume.display(),
            h.volume_fraction,
            h.iterations
        );
        if let Some(e) = h.e11 {
            println!("  E11   = {e:.6}  (uniaxial stress, 1/S*1111)");
        }
        if let Some(c) = h.c1111 {
            println!("  C1111 = {c:.6}  (uniaxial strain)");
        }
    }
    Ok(())
}
