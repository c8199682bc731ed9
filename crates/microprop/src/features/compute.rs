//! Where a section becomes a feature vector: two-point statistics of its labels
//! ([`crate::correlate::features_of_labels`]), or a ViT / CNN forward pass of it as an image
//! ([`crate::extract::Loaded::run`]).

#[cfg(feature = "vision")]
use std::path::Path;

#[cfg(feature = "vision")]
use microprop_vit::Item;
use rayon::prelude::*;

use crate::config::ExtractorSpec;
#[cfg(feature = "vision")]
use crate::config::{VisionSpec, extractor::family_matches};
use crate::correlate::{CorrelateSettings, features_of_labels};
use crate::dataset::Section;
use crate::error::{Error, Result};
#[cfg(feature = "vision")]
use crate::extract::{Loaded, gray_pixels, input_error, labels_to_gray};
use crate::segment::read_labels_maybe_segmented;

/// Computes vectors on demand: two-point statistics in parallel, models batched (loaded on
/// first use).
pub(crate) enum Computer<'a> {
    TwoPoint(Box<std::result::Result<CorrelateSettings, String>>),
    #[cfg(feature = "vision")]
    Model(&'a VisionSpec, String, bool),
    /// A vision extractor in a build without the models.
    #[cfg(not(feature = "vision"))]
    NotBuilt(std::marker::PhantomData<&'a ()>),
    None,
}

impl<'a> Computer<'a> {
    pub(crate) fn new(extractor: &'a ExtractorSpec, mat_variable: &str) -> Self {
        match extractor {
            ExtractorSpec::TwoPoint(spec) => Computer::TwoPoint(Box::new(
                spec.settings(mat_variable).map_err(|e| e.to_string()),
            )),
            #[cfg(feature = "vision")]
            ExtractorSpec::Vit(o) => Computer::Model(o, mat_variable.to_string(), false),
            #[cfg(feature = "vision")]
            ExtractorSpec::Cnn(o) => Computer::Model(o, mat_variable.to_string(), true),
            #[cfg(not(feature = "vision"))]
            ExtractorSpec::Vit(_) | ExtractorSpec::Cnn(_) => {
                Computer::NotBuilt(std::marker::PhantomData)
            }
            ExtractorSpec::Precomputed(_) => Computer::None,
        }
    }

    pub(crate) fn compute(
        &self,
        missing: &[(u128, usize)],
        all: &[&Section],
        save: &(dyn Fn(u128, Vec<f64>) -> Result<()> + Sync),
    ) -> Result<()> {
        if missing.is_empty() {
            return Ok(());
        }
        match self {
            Computer::TwoPoint(settings) => {
                let settings = settings.as_ref().as_ref().map_err(|e| Error::Setting {
                    name: "two_point",
                    reason: e.clone(),
                })?;
                missing.par_iter().try_for_each(|&(hash, i)| {
                    let v = two_point(all[i], settings)?;
                    save(hash, v)
                })
            }
            #[cfg(not(feature = "vision"))]
            Computer::NotBuilt(_) => Err(crate::config::extractor::not_built()),
            #[cfg(feature = "vision")]
            Computer::Model(options, mat_variable, cnn) => {
                let loaded = Loaded::new(options)?;
                check_family(*cnn, &loaded)?;
                let items: Vec<Item<'_>> = missing
                    .iter()
                    .map(|&(_, i)| section_item(all[i], &loaded, mat_variable))
                    .collect::<Result<_>>()?;
                loaded.run(&items, |idx, vectors| {
                    for (&k, v) in idx.iter().zip(vectors) {
                        save(missing[k].0, v.into_iter().map(f64::from).collect())?;
                    }
                    Ok(())
                })
            }
            Computer::None => Ok(()),
        }
    }
}

/// A `vit` extractor must load a transformer and a `cnn` one a ResNet.
#[cfg(feature = "vision")]
fn check_family(cnn: bool, loaded: &Loaded) -> Result<()> {
    family_matches(cnn, loaded.config().family(), &loaded.config().describe())
}

fn two_point(section: &Section, settings: &CorrelateSettings) -> Result<Vec<f64>> {
    let label = section.label();
    let labels = match section.labels() {
        Some(l) => match &settings.segment {
            Some(s) => crate::segment::segment_labels(&l, s, &label)?,
            None => l,
        },
        None => {
            read_labels_maybe_segmented(&label, settings.segment.as_ref(), &settings.mat_variable)?
        }
    };
    features_of_labels(&labels, &label, settings)
}

#[cfg(feature = "vision")]
fn is_image(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_ascii_lowercase().as_str(),
            "png" | "tif" | "tiff" | "bmp" | "jpg" | "jpeg"
        )
    })
}

/// The model input of one section: an image file as an image; label arrays (`.npy`, `.mat`,
/// stack rows) as gray images (binary 0/1 scaled to 0/255), through the model's recipe.
#[cfg(feature = "vision")]
fn section_item<'s>(section: &'s Section, loaded: &Loaded, mat_variable: &str) -> Result<Item<'s>> {
    let name = section.label().display().to_string();
    if let Section::File(path) = section
        && (is_image(path) || loaded.recipe.is_none())
    {
        let mut items = loaded.file_item(path, name.clone())?;
        if items.len() != 1 {
            return Err(
                input_error(path, format!("{} images in one section file", items.len())).into(),
            );
        }
        return Ok(items.remove(0));
    }
    let Some(recipe) = loaded.recipe else {
        return Err(input_error(
            &section.label(),
            "`preprocess: none` takes float32 (3, H, W) .npy files".into(),
        )
        .into());
    };
    let shape_of = |l: &microprop_correlations::Labels| -> Result<(usize, usize)> {
        match l.shape() {
            [h, w] => Ok((*h, *w)),
            other => Err(input_error(
                &section.label(),
                format!("a 2-D section is needed, not shape {other:?}"),
            )
            .into()),
        }
    };
    let labels = match section.labels() {
        Some(l) => l,
        None => microprop_correlations::read_labels_with(section.label(), mat_variable)?,
    };
    let (h, w) = shape_of(&labels)?;
    let shape = recipe
        .output_shape((h, w))
        .map_err(|e| e.for_input(section.label().display().to_string()))?;
    let mat_variable = mat_variable.to_string();
    Ok(Item {
        name: name.clone(),
        shape,
        load: Box::new(move || {
            let labels = match section.labels() {
                Some(l) => l,
                None => microprop_correlations::read_labels_with(section.label(), &mat_variable)
                    .map_err(|e| input_error(&section.label(), e.to_string()))?,
            };
            let gray = labels_to_gray(&labels, &name)
                .map_err(|e| input_error(&section.label(), e.to_string()))?;
            gray_pixels(&gray, (h, w), &recipe, &name)
                .map_err(|e| input_error(&section.label(), e.to_string()))
        }),
    })
}
