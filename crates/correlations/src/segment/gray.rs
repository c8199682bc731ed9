//! RGB(A)/BGR(A) to gray conversion with OpenCV's integer arithmetic, and 16 → 8 bit scaling.

use ndarray::Array2;

use crate::error::{Error, Result};

/// Which channel holds red.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelOrder {
    /// Channel 0 is red (PIL, imageio, the `image` crate; OpenCV's `COLOR_RGB(A)2GRAY`).
    #[default]
    Rgb,
    /// Channel 0 is blue (`cv2.imread`; OpenCV's `COLOR_BGR(A)2GRAY`).
    Bgr,
}

/// OpenCV's 15-bit fixed-point gray weights for red, green and blue (sum 32768).
const WEIGHTS: [u32; 3] = [9798, 19235, 3735];

/// Gray value of one pixel: `(9798 R + 19235 G + 3735 B + 2^14) >> 15`, for 8- and 16-bit data.
pub fn gray_pixel(r: u32, g: u32, b: u32) -> u32 {
    (WEIGHTS[0] * r + WEIGHTS[1] * g + WEIGHTS[2] * b + (1 << 14)) >> 15
}

/// Converts interleaved 8-bit pixels with 3 or 4 channels (alpha ignored) to gray, exactly as
/// OpenCV's `cvtColor(.., COLOR_RGB(A)2GRAY / COLOR_BGR(A)2GRAY)`.
pub fn rgb_to_gray(
    pixels: &[u8],
    height: usize,
    width: usize,
    channels: usize,
    order: ChannelOrder,
) -> Result<Array2<u8>> {
    let gray = convert(pixels, height, width, channels, order, |v| u32::from(*v))?;
    Ok(gray.mapv(|v| v as u8))
}

/// Converts interleaved 16-bit pixels with 3 or 4 channels to 16-bit gray with the same
/// 15-bit weights (OpenCV's rule for `CV_16U`, verified against cv2).
pub fn rgb16_to_gray16(
    pixels: &[u16],
    height: usize,
    width: usize,
    channels: usize,
    order: ChannelOrder,
) -> Result<Array2<u16>> {
    let gray = convert(pixels, height, width, channels, order, |v| u32::from(*v))?;
    Ok(gray.mapv(|v| v as u16))
}

/// 16-bit gray to 8 bits, rounding `v / 257` to nearest (OpenCV's
/// `convertTo(CV_8U, 1.0 / 257)`; ties cannot occur). Maps 0 → 0 and 65535 → 255.
pub fn gray16_to_gray8(gray: &Array2<u16>) -> Array2<u8> {
    gray.mapv(|v| ((2 * u32::from(v) + 257) / 514) as u8)
}

fn convert<T>(
    pixels: &[T],
    height: usize,
    width: usize,
    channels: usize,
    order: ChannelOrder,
    widen: impl Fn(&T) -> u32,
) -> Result<Array2<u32>> {
    if !(3..=4).contains(&channels) {
        return Err(Error::Unsupported {
            path: "<pixels>".into(),
            detail: format!("{channels} channels; colour conversion needs 3 or 4"),
        });
    }
    if height == 0 || width == 0 {
        return Err(Error::Empty {
            what: "colour image".to_string(),
            shape: vec![height, width],
        });
    }
    if pixels.len() != height * width * channels {
        return Err(Error::ShapeMismatch {
            what: "pixel buffer and image size".to_string(),
            left: vec![pixels.len()],
            right: vec![height, width, channels],
        });
    }
    let (ri, bi) = match order {
        ChannelOrder::Rgb => (0, 2),
        ChannelOrder::Bgr => (2, 0),
    };
    let gray: Vec<u32> = pixels
        .chunks_exact(channels)
        .map(|px| gray_pixel(widen(&px[ri]), widen(&px[1]), widen(&px[bi])))
        .collect();
    Ok(Array2::from_shape_vec((height, width), gray).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one() {
        assert_eq!(WEIGHTS.iter().sum::<u32>(), 1 << 15);
        assert_eq!(gray_pixel(255, 255, 255), 255);
        assert_eq!(gray_pixel(65535, 65535, 65535), 65535);
    }

    #[test]
    fn sixteen_to_eight_bits_rounds_to_nearest() {
        let g = Array2::from_shape_vec((1, 5), vec![0u16, 128, 129, 65535, 385]).unwrap();
        assert_eq!(
            gray16_to_gray8(&g).into_raw_vec_and_offset().0,
            vec![0, 0, 1, 255, 1]
        );
    }
}
