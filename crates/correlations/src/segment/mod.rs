//! OpenCV-exact segmentation of gray micrographs: gray conversion, non-local-means denoising
//! and adaptive thresholding, as the paper ran them with OpenCV, without OpenCV.
//!
//! ```
//! use microprop_correlations::segment::Segmenter;
//! use ndarray::Array2;
//!
//! let gray = Array2::from_shape_fn((40, 60), |(i, j)| ((i * 7 + j * 3) % 256) as u8);
//! let binary = Segmenter::paper().segment(&gray.view())?; // values 0 and 255
//! assert_eq!(binary.dim(), (40, 60));
//! # Ok::<(), microprop_correlations::Error>(())
//! ```

mod gray;
mod nlm;
mod threshold;

use std::path::Path;

use image::DynamicImage;
use ndarray::{Array2, ArrayView2};

pub use gray::{ChannelOrder, gray_pixel, gray16_to_gray8, rgb_to_gray, rgb16_to_gray16};
pub use nlm::NlMeans;
pub use threshold::{
    AdaptiveMethod, ThresholdType, adaptive_threshold, check_block_size, paper_block_size,
};

use crate::error::{Error, Result};

/// Non-local-means denoising with OpenCV's parameters (`fastNlMeansDenoising(src, None, h,
/// template, search)`), bit-exact.
pub fn fast_nl_means(
    src: &ArrayView2<'_, u8>,
    h: f32,
    template: usize,
    search: usize,
) -> Result<Array2<u8>> {
    NlMeans::new(h, template, search)?.denoise(src)
}

/// Block size of the adaptive threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "snake_case")
)]
pub enum Block {
    /// A fixed odd size > 1.
    Size(usize),
    /// The paper's rule from the image size ([`paper_block_size`]).
    Paper,
}

/// The segmentation chain: optional NLM denoising, then adaptive thresholding to 0/255.
/// With the `serde` feature it serializes (for records of how features were made).
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Segmenter {
    /// Denoising before thresholding (`None`: threshold the gray image as it is).
    pub denoise: Option<NlMeans>,
    /// Local mean: box (MEAN_C) or Gaussian.
    pub method: AdaptiveMethod,
    /// Binary or inverted.
    pub kind: ThresholdType,
    /// Block size.
    pub block: Block,
    /// The constant subtracted from the local mean.
    pub c: f64,
}

impl Segmenter {
    /// The paper's chain: NLM (h = 10, 7, 21), MEAN_C, THRESH_BINARY, paper window, C = 5.
    pub fn paper() -> Self {
        Self {
            denoise: Some(NlMeans::default()),
            method: AdaptiveMethod::Mean,
            kind: ThresholdType::Binary,
            block: Block::Paper,
            c: 5.0,
        }
    }

    /// Checks the settings that do not depend on the image.
    pub fn validate(&self) -> Result<()> {
        if let Block::Size(b) = self.block {
            check_block_size(b)?;
        }
        if !self.c.is_finite() {
            return Err(Error::NonFinite {
                what: "threshold constant C".to_string(),
                index: 0,
            });
        }
        Ok(())
    }

    /// Segments an 8-bit gray image into 0/255.
    pub fn segment(&self, gray: &ArrayView2<'_, u8>) -> Result<Array2<u8>> {
        self.validate()?;
        let denoised = match &self.denoise {
            Some(nlm) => Some(nlm.denoise(gray)?),
            None => None,
        };
        let src = denoised.as_ref().map_or(gray.view(), |d| d.view());
        let (h, w) = src.dim();
        let block = match self.block {
            Block::Size(b) => b,
            Block::Paper => paper_block_size(h, w),
        };
        adaptive_threshold(&src, 255, self.method, self.kind, block, self.c)
    }
}

impl Default for Segmenter {
    fn default() -> Self {
        Self::paper()
    }
}

/// Reads an image as 8-bit gray: gray stays as is; 8-bit RGB(A) is converted with OpenCV's
/// `COLOR_RGB(A)2GRAY` (the `image` crate reads channels in RGB order, like PIL); 16-bit
/// images are converted to 16-bit gray with the same weights, then scaled by 1/257 with
/// rounding ([`gray16_to_gray8`]). Float images are refused.
pub fn read_gray8(path: impl AsRef<Path>) -> Result<Array2<u8>> {
    let path = path.as_ref();
    let img = crate::io::decode_image(path)?;
    gray8_of(img).map_err(|e| e.in_file(path))
}

/// 8-bit gray pixels of a decoded image (see [`read_gray8`]).
pub fn gray8_of(img: DynamicImage) -> Result<Array2<u8>> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let shape_err = || Error::Empty {
        what: "image".to_string(),
        shape: vec![h, w],
    };
    if w == 0 || h == 0 {
        return Err(shape_err());
    }
    let rgb = ChannelOrder::Rgb;
    match img {
        DynamicImage::ImageLuma8(b) => {
            Array2::from_shape_vec((h, w), b.into_raw()).map_err(|_| shape_err())
        }
        DynamicImage::ImageLumaA8(b) => {
            let v = b.into_raw().chunks_exact(2).map(|p| p[0]).collect();
            Array2::from_shape_vec((h, w), v).map_err(|_| shape_err())
        }
        DynamicImage::ImageRgb8(b) => rgb_to_gray(&b.into_raw(), h, w, 3, rgb),
        DynamicImage::ImageRgba8(b) => rgb_to_gray(&b.into_raw(), h, w, 4, rgb),
        DynamicImage::ImageLuma16(b) => Array2::from_shape_vec((h, w), b.into_raw())
            .map(|g| gray16_to_gray8(&g))
            .map_err(|_| shape_err()),
        DynamicImage::ImageLumaA16(b) => {
            let v = b.into_raw().chunks_exact(2).map(|p| p[0]).collect();
            Array2::from_shape_vec((h, w), v)
                .map(|g| gray16_to_gray8(&g))
                .map_err(|_| shape_err())
        }
        DynamicImage::ImageRgb16(b) => {
            rgb16_to_gray16(&b.into_raw(), h, w, 3, rgb).map(|g| gray16_to_gray8(&g))
        }
        DynamicImage::ImageRgba16(b) => {
            rgb16_to_gray16(&b.into_raw(), h, w, 4, rgb).map(|g| gray16_to_gray8(&g))
        }
        other => Err(Error::NotEightBit {
            what: "image".to_string(),
            detail: format!(
                "pixel type {:?}; 8- or 16-bit integer images only",
                other.color()
            ),
        }),
    }
}
