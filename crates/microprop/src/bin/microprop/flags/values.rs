//! The command line's names for the libraries' setting enums (clap stays in the binary): one
//! `ValueEnum` per library enum, with the names and aliases of its serde form, converted with
//! `From`.

use clap::ValueEnum;

/// Declares a clap value enum mirroring a library enum, and the conversion into it.
macro_rules! value_enum {
    ($(#[$meta:meta])* $name:ident => $target:path {
        $($(#[$vmeta:meta])* $variant:ident => $to:ident),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
        pub(crate) enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$name> for $target {
            fn from(v: $name) -> Self {
                use $target as Target;
                match v {
                    $($name::$variant => Target::$to),+
                }
            }
        }
    };
}

value_enum!(
    /// Auto- or cross-correlation.
    CorrelationArg => microprop_correlations::Correlation {
        /// ⟨A(x) A(x + r)⟩.
        Auto => Auto,
        /// ⟨A(x) B(x + r)⟩.
        Cross => Cross,
    }
);

value_enum!(
    /// Flattening order of a map.
    OrderArg => microprop_correlations::Order {
        /// Row-major (numpy's default).
        #[value(name = "C", alias = "c")]
        RowMajor => RowMajor,
        /// Column-major (MATLAB's, the toolbox's).
        #[value(name = "F", alias = "f")]
        ColumnMajor => ColumnMajor,
    }
);

value_enum!(
    /// Local mean of the adaptive threshold.
    MethodArg => microprop_correlations::segment::AdaptiveMethod {
        /// Box mean (ADAPTIVE_THRESH_MEAN_C).
        Mean => Mean,
        /// Gaussian-weighted mean (ADAPTIVE_THRESH_GAUSSIAN_C).
        Gaussian => Gaussian,
    }
);

value_enum!(
    /// Discrete wave vectors of the homogenization solver.
    SchemeArg => microprop_homogenization::solver::Scheme {
        /// Willot's rotated finite differences.
        Willot => Willot,
        /// Moulinec–Suquet's Fourier wave vectors.
        Fourier => Fourier,
    }
);

value_enum!(
    /// Preprocessing of model inputs.
    ModeArg => microprop_vit::Mode {
        /// The paper's crop and resize, pixels in [0, 1].
        Paper => Paper,
        /// The same with the model's mean/std normalization.
        Standard => Standard,
        /// Ready float32 .npy pixel arrays, used as they are.
        None => None,
    }
);

value_enum!(
    /// How fixed-size models reach their input size.
    UpscaleArg => microprop_vit::Upscale {
        /// Pillow bilinear.
        Bilinear => Bilinear,
        /// Pixel replication.
        Replicate => Replicate,
    }
);

value_enum!(
    /// How tokens become one vector per image.
    PoolingArg => microprop_vit::Pooling {
        /// The model's own pooled output.
        Pooler => Pooler,
        /// The CLS token.
        Cls => Cls,
        /// Mean of the patch tokens.
        Mean => Mean,
        /// CLS token, then the mean of the patch tokens.
        #[value(name = "cls+mean", alias = "cls-mean")]
        ClsMean => ClsMean,
    }
);

value_enum!(
    /// Compute backend of the vision models.
    BackendArg => microprop_vit::Backend {
        /// burn's CPU backend.
        Cpu => Cpu,
        /// wgpu: Vulkan, Metal or DX12 GPUs.
        #[value(alias = "gpu")]
        Wgpu => Wgpu,
    }
);

value_enum!(
    /// How the sections of a sample become one vector.
    AggregationArg => microprop::config::Aggregation {
        /// Section vectors side by side.
        Concat => Concat,
        /// Element-wise mean of the section vectors.
        Mean => Mean,
    }
);

value_enum!(
    /// File format of segmented images.
    FormatArg => microprop::segment::Format {
        /// 8-bit grayscale PNG.
        Png => Png,
        /// uint8 .npy, shape (h, w).
        Npy => Npy,
    }
);
