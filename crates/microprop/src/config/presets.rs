//! The paper's two case studies as study configs (`cargo xtask reproduce case1|case2` write
//! them as `study.json` and run them as `microprop study` does).

use std::collections::BTreeMap;
use std::path::Path;

use microprop_regression::RegressorKind;

use super::protocol::{five, forty_two, ten};
use super::{
    Aggregation, DataSpec, ExtractorSpec, FeatureSet, MaxPcs, PrecomputedSpec, Protocol,
    StudyConfig, Target, TargetColumn, TieRule, TwoPointExtractor, Uncertainty,
};
use crate::error::{Error, Result};

impl StudyConfig {
    /// The paper's case study 1 on a `microprop synth` directory: periodic two-point
    /// autocorrelations of the three sections, concatenated and averaged, LR and PR,
    /// hold-out protocol; the PCA scatter is coloured by volume fraction.
    pub fn case1(data: &Path) -> Self {
        let sections = ["xx", "xy", "xz"]
            .iter()
            .map(|s| data.join(format!("sections_{s}.npy")))
            .collect();
        StudyConfig {
            name: "Case study 1: Young's modulus of synthetic two-phase composites".into(),
            data: DataSpec {
                sections,
                table: data.join("metadata.csv"),
                name_column: "index".into(),
                target: Target::column("E11"),
                extra_columns: Vec::new(),
                color_column: Some("volume_fraction".into()),
                allow_missing: false,
                group: None,
                mat_variable: "a".into(),
            },
            features: vec![FeatureSet::single(
                "twopoint",
                ExtractorSpec::TwoPoint(TwoPointExtractor::periodic_auto()),
            )],
            aggregation: vec![Aggregation::Concat, Aggregation::Mean],
            with_extra_columns: vec![true],
            models: vec![
                RegressorKind::Linear.into(),
                RegressorKind::Polynomial.into(),
            ],
            protocol: Protocol::paper_holdout(),
            standardize: None,
            extra_beside_pcs: false,
            uncertainty: Some(Uncertainty::default()),
            cache: None,
        }
    }
}

/// The feature sets of the paper's case study 2: the authors' ViT and CNN features
/// (`Features/<name>_<set>.npy`) and two-point features computed here.
pub const CASE2_FEATURE_SETS: [&str; 10] = [
    "clip_b16", "clip_b32", "clip_l14", "dino_s", "dino_b", "dino_l", "dino_g", "sam", "Nasa",
    "twopoint",
];

/// The composition columns of case 2's `data.xlsx`, in order.
pub const CASE2_COMPOSITIONS: [&str; 22] = [
    "Al", "W", "Ta", "Ti", "Cr", "Ni", "Mo", "Hf", "C", "Co", "B", "V", "Si", "Fe", "Nb", "Zr",
    "Re", "Cb", "Ce", "Mn", "S", "P",
];

impl StudyConfig {
    /// The paper's case study 2 on its published data directory (`data.xlsx`, `Features/`,
    /// `Binary_Images/`): the listed feature sets (the precomputed ones from `Features/`,
    /// `twopoint` as the MATLAB toolbox's cross-correlation of `Binary_Images`), each without
    /// and with the 22 compositions; LR, PR and SVR under nested cross-validation.
    pub fn case2(data: &Path, sets: &[&str]) -> Result<Self> {
        let features = sets
            .iter()
            .map(|&set| {
                if !CASE2_FEATURE_SETS.contains(&set) {
                    return Err(Error::Setting {
                        name: "features",
                        reason: format!(
                            "unknown case-2 feature set `{set}` (known: {})",
                            CASE2_FEATURE_SETS.join(", ")
                        ),
                    });
                }
                let extractor = if set == "twopoint" {
                    ExtractorSpec::TwoPoint(TwoPointExtractor::paper_case2())
                } else {
                    ExtractorSpec::Precomputed(PrecomputedSpec {
                        path: data.join("Features"),
                        pattern: Some(format!("{{name}}_{set}.npy")),
                    })
                };
                Ok(FeatureSet::single(set, extractor))
            })
            .collect::<Result<_>>()?;
        let uses_images = sets.contains(&"twopoint");
        Ok(StudyConfig {
            name: "Case study 2: Vickers hardness of 149 superalloys".into(),
            data: DataSpec {
                sections: if uses_images {
                    vec![data.join("Binary_Images")]
                } else {
                    Vec::new()
                },
                table: data.join("data.xlsx"),
                name_column: "Image_Name".into(),
                target: Target {
                    name: "hardness".into(),
                    unit: "HV".into(),
                    columns: vec![
                        TargetColumn {
                            column: "Vickers Hardness (HV)".into(),
                            unit: None,
                            scale: None,
                        },
                        TargetColumn {
                            column: "Vickers Hardness (Gpa)".into(),
                            unit: Some("GPa".into()),
                            scale: None,
                        },
                    ],
                },
                extra_columns: CASE2_COMPOSITIONS.iter().map(|c| c.to_string()).collect(),
                color_column: None,
                allow_missing: false,
                group: None,
                mat_variable: "a".into(),
            },
            features,
            aggregation: vec![Aggregation::Concat],
            with_extra_columns: vec![false, true],
            models: vec![
                RegressorKind::Linear.into(),
                RegressorKind::Polynomial.into(),
                RegressorKind::Svr.into(),
            ],
            protocol: Protocol::NestedCv {
                outer: ten(),
                inner: five(),
                seed: forty_two(),
                max_pcs: MaxPcs::PerModel(BTreeMap::from([
                    ("lr".to_string(), 50),
                    ("pr".to_string(), 12),
                    ("svr".to_string(), 50),
                ])),
                // The authors' notebook reports the PCs by CPython's set order on ties; the
                // case-2 reference numbers (e.g. 35 PCs for dino_l SVR + compositions) do too.
                tie_rule: TieRule::Notebook,
            },
            standardize: None,
            extra_beside_pcs: false,
            uncertainty: Some(Uncertainty::default()),
            cache: None,
        })
    }
}
