//! Turning an image into model input: the paper's top-left crops, RGB, Pillow-exact
//! bilinear resizing or pixel replication, scaling to [0, 1] and optional normalization.

use std::path::Path;

use crate::error::{Error, Result};
use crate::model::registry::ModelConfig;
use crate::resample::pil_resize_bilinear;

// The normalization constants live with the models that use them (each family's
// `Architecture::normalization`); re-exported here, where they were defined before.
pub use crate::clip::{CLIP_MEAN, CLIP_STD};
pub use crate::model::family::{IMAGENET_MEAN, IMAGENET_STD};

/// Crop from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crop {
    /// Keep the whole image.
    None,
    /// Largest multiple of `n` in each direction.
    Multiple(usize),
    /// Largest square whose side is a multiple of `n`.
    Square(usize),
}

/// How the cropped image reaches the model's input size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// Keep the cropped size.
    None,
    /// Pillow's antialiased bilinear resize to `size × size` (torchvision `Resize` on a PIL image).
    Bilinear(usize),
    /// Replicate each pixel `k × k` (smallest `k` that covers `size`), then crop `size × size`
    /// from the top-left: for small binary sections.
    Replicate(usize),
}

/// The three preprocessing modes of `microprop extract`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The paper's notebooks: crop, RGB, resize, scale to [0, 1], no normalization.
    #[default]
    Paper,
    /// The paper's geometry with the model's own mean/std normalization.
    Standard,
    /// Inputs are ready pixel arrays (`.npy`), used as they are.
    None,
}

/// A complete preprocessing recipe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preprocess {
    /// Crop.
    pub crop: Crop,
    /// Resize.
    pub resize: Resize,
    /// `(mean, std)` per channel applied after scaling to [0, 1], if any.
    pub normalize: Option<([f32; 3], [f32; 3])>,
}

/// Upscaling rule for [`Preprocess::for_model`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Upscale {
    /// Pillow bilinear (the paper's case 2).
    #[default]
    Bilinear,
    /// Pixel replication (the paper's case-1 binary sections).
    Replicate,
}

impl Preprocess {
    /// The recipe for a model: `Paper` or `Standard` mode.
    pub fn for_model(config: &ModelConfig, mode: Mode, upscale: Upscale) -> Self {
        let (crop, resize) = match config.input_size() {
            None => (Crop::Multiple(config.size_multiple()), Resize::None),
            Some(size) => match upscale {
                Upscale::Replicate => (Crop::None, Resize::Replicate(size)),
                Upscale::Bilinear => (Crop::Square(config.crop_multiple()), Resize::Bilinear(size)),
            },
        };
        let normalize = match mode {
            Mode::Standard => Some(config.normalization()),
            _ => None,
        };
        Self {
            crop,
            resize,
            normalize,
        }
    }

    /// Output `(height, width)` for an input of `(height, width)`, or why there is none.
    pub fn output_shape(&self, (h, w): (usize, usize)) -> crate::Result<(usize, usize)> {
        let (ch, cw) = self.cropped((h, w))?;
        Ok(match self.resize {
            Resize::None => (ch, cw),
            Resize::Bilinear(s) | Resize::Replicate(s) => (s, s),
        })
    }

    fn cropped(&self, (h, w): (usize, usize)) -> crate::Result<(usize, usize)> {
        let (ch, cw) = match self.crop {
            Crop::None => (h, w),
            Crop::Multiple(n) => (h - h % n, w - w % n),
            Crop::Square(n) => {
                let s = h.min(w);
                (s - s % n, s - s % n)
            }
        };
        if ch == 0 || cw == 0 {
            return Err(crate::Error::Input {
                path: "image".into(),
                message: format!("{w}×{h} is too small for crop {:?}", self.crop),
            });
        }
        Ok((ch, cw))
    }

    /// Applies the recipe to an interleaved RGB image; returns `[3, h, w]` values.
    pub fn apply(&self, rgb: &[u8], (h, w): (usize, usize)) -> crate::Result<Pixels> {
        let rgb = self.apply_u8(rgb, (h, w))?;
        let (oh, ow) = (rgb.height, rgb.width);
        let mut data = vec![0f32; 3 * oh * ow];
        for (i, px) in rgb.data.chunks_exact(3).enumerate() {
            for c in 0..3 {
                let mut v = f32::from(px[c]) / 255.0;
                if let Some((mean, std)) = self.normalize {
                    v = (v - mean[c]) / std[c];
                }
                data[c * oh * ow + i] = v;
            }
        }
        Ok(Pixels {
            data,
            height: oh,
            width: ow,
        })
    }

    /// The 8-bit RGB image after crop and resize, before scaling (what PIL would hold).
    pub fn apply_u8(&self, rgb: &[u8], (h, w): (usize, usize)) -> crate::Result<Rgb8> {
        let (ch, cw) = self.cropped((h, w))?;
        let mut cropped = Vec::with_capacity(ch * cw * 3);
        for y in 0..ch {
            cropped.extend_from_slice(&rgb[y * w * 3..(y * w + cw) * 3]);
        }
        Ok(match self.resize {
            Resize::None => Rgb8 {
                data: cropped,
                height: ch,
                width: cw,
            },
            Resize::Bilinear(s) => Rgb8 {
                data: pil_resize_bilinear(&cropped, (cw, ch), 3, (s, s)),
                height: s,
                width: s,
            },
            Resize::Replicate(s) => {
                let k = s.div_ceil(ch.min(cw));
                let mut data = Vec::with_capacity(s * s * 3);
                for y in 0..s {
                    for x in 0..s {
                        let i = ((y / k) * cw + x / k) * 3;
                        data.extend_from_slice(&cropped[i..i + 3]);
                    }
                }
                Rgb8 {
                    data,
                    height: s,
                    width: s,
                }
            }
        })
    }
}

/// An interleaved 8-bit RGB image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8 {
    /// `height * width * 3` bytes, row-major.
    pub data: Vec<u8>,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

/// Model input for one image: `[3, height, width]` floats.
#[derive(Debug, Clone, PartialEq)]
pub struct Pixels {
    /// Channel-major values.
    pub data: Vec<f32>,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
}

/// Decodes an image with its allocations bounded by what its file could hold (deflate expands
/// about 1,032:1; at least 16 MiB, at most 512 MiB), so a lying header is an error.
fn decode(path: &Path) -> Result<image::DynamicImage> {
    let bad = |message: String| Error::Input {
        path: path.display().to_string(),
        message,
    };
    let len = std::fs::metadata(path)
        .map_err(|e| bad(e.to_string()))?
        .len();
    let mut reader = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| bad(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(len.saturating_mul(1100).clamp(16 << 20, 512 << 20));
    reader.limits(limits);
    reader.decode().map_err(|e| bad(e.to_string()))
}

/// Reads an image file as 8-bit RGB (gray replicated, alpha dropped, as PIL's `convert("RGB")`).
pub fn read_rgb(path: &Path) -> Result<Rgb8> {
    let img = decode(path)?;
    let rgb = img.to_rgb8();
    let (w, h) = rgb.dimensions();
    Ok(Rgb8 {
        data: rgb.into_raw(),
        height: h as usize,
        width: w as usize,
    })
}

/// Reads only an image file's `(height, width)`.
pub fn image_shape(path: &Path) -> Result<(usize, usize)> {
    let (w, h) = image::image_dimensions(path).map_err(|e| Error::Input {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    Ok((h as usize, w as usize))
}
