//! The feature spec: one vector per image and one matrix per batch, equal to the maps it is
//! made of, with typed errors naming the image.

use microprop_correlations::{
    Correlation, Cutoff, Error, Labels, Order, TwoPoint, TwoPointFeatures,
};
use ndarray::{Array2, ArrayD, IxDyn};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn image(h: usize, w: usize, seed: u64) -> Labels {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ArrayD::from_shape_fn(
        IxDyn(&[h, w]),
        |_| if rng.random_bool(0.4) { 255 } else { 0 },
    )
}

#[test]
fn a_vector_is_the_cropped_maps_of_every_pair_flattened_in_order() {
    let img = image(21, 17, 1);
    let spec = TwoPointFeatures {
        correlation: Correlation::Cross,
        pairs: vec![(255, 0), (0, 255)],
        cutoff: Cutoff::Value(6),
        crop: Some(7),
        order: Order::ColumnMajor,
        ..TwoPointFeatures::default()
    };
    let got = spec.vector(&img.view()).unwrap();
    let maps = TwoPoint::non_periodic()
        .with_cutoff(Cutoff::Value(6))
        .phases(&img, &[(255, 0), (0, 255)], None)
        .unwrap();
    let mut want = Vec::new();
    for m in maps {
        want.extend(m.centre_crop(7).unwrap().flatten(Order::ColumnMajor));
    }
    assert_eq!(got.to_vec(), want);
    assert_eq!(got.len(), 2 * 49);
    // Auto uses each pair's first phase with itself; no pairs: the higher phase.
    let auto = TwoPointFeatures::default().vector(&img.view()).unwrap();
    let map = TwoPoint::non_periodic()
        .phases(&img, &[(255, 255)], None)
        .unwrap();
    assert_eq!(auto.to_vec(), map[0].flatten(Order::RowMajor));
}

#[test]
fn a_matrix_has_one_row_per_image_in_order() {
    let images: Vec<Labels> = (0..5).map(|s| image(15, 15, s)).collect();
    let views: Vec<_> = images.iter().map(|i| i.view()).collect();
    let spec = TwoPointFeatures::paper_case2();
    let spec = TwoPointFeatures {
        crop: Some(9),
        ..spec
    };
    let m = spec.matrix(&views).unwrap();
    assert_eq!(m.dim(), (5, 81));
    for (i, v) in views.iter().enumerate() {
        assert_eq!(m.row(i).to_vec(), spec.vector(v).unwrap().to_vec());
    }
    // Periodic maps of case 1.
    let p = TwoPointFeatures::periodic_auto();
    let small: Vec<Labels> = (0..3).map(|s| image(11, 11, s).mapv(|v| v / 255)).collect();
    let views: Vec<_> = small.iter().map(|i| i.view()).collect();
    assert_eq!(p.matrix(&views).unwrap().dim(), (3, 121));
}

#[test]
fn bad_inputs_are_typed_errors_naming_the_image() {
    let spec = TwoPointFeatures::default();
    let images = [image(12, 12, 1), image(16, 16, 2)];
    let views: Vec<_> = images.iter().map(|i| i.view()).collect();
    let e = spec.matrix(&views).unwrap_err();
    assert!(matches!(e, Error::FeatureLength { .. }), "{e:?}");
    assert!(
        e.to_string().contains("image 1") && e.to_string().contains("crop"),
        "{e}"
    );
    let even = TwoPointFeatures {
        crop: Some(8),
        ..TwoPointFeatures::default()
    };
    assert!(matches!(
        even.vector(&images[0].view()),
        Err(Error::Setting { name: "crop", .. })
    ));
    let absent = TwoPointFeatures {
        pairs: vec![(7, 7)],
        ..TwoPointFeatures::default()
    };
    let e = absent.matrix(&views).unwrap_err();
    assert!(matches!(e, Error::PhaseAbsent { phase: 7, .. }), "{e:?}");
    assert!(e.to_string().contains("image 0"), "{e}");
    // Allowed absent phases give zero statistics.
    let allowed = TwoPointFeatures {
        allow_absent_phase: true,
        ..absent
    };
    assert!(allowed.vector(&views[0]).unwrap().iter().all(|&v| v == 0.0));
    let three = Array2::from_shape_fn((6, 6), |(i, _)| (i % 3) as u16).into_dyn();
    assert!(matches!(
        TwoPointFeatures::default().vector(&three.view()),
        Err(Error::NonBinary { .. })
    ));
}

#[cfg(feature = "serde")]
#[test]
fn a_spec_reads_from_settings_text() {
    let spec: TwoPointFeatures = serde_json::from_str(
        r#"{"correlation": "cross", "pairs": [[255, 0]], "cutoff": "half", "crop": 159, "order": "F"}"#,
    )
    .unwrap();
    assert_eq!(spec, TwoPointFeatures::paper_case2());
    let text = serde_json::to_string(&spec).unwrap();
    assert_eq!(
        serde_json::from_str::<TwoPointFeatures>(&text).unwrap(),
        spec
    );
    let n: TwoPointFeatures = serde_json::from_str(r#"{"cutoff": 12, "order": "c"}"#).unwrap();
    assert_eq!((n.cutoff, n.order), (Cutoff::Value(12), Order::RowMajor));
    for bad in [
        r#"{"cutoff": "most"}"#,
        r#"{"cutoff": 0}"#,
        r#"{"order": "K"}"#,
        r#"{"pairs": 3}"#,
        r#"{"crops": 3}"#,
    ] {
        assert!(
            serde_json::from_str::<TwoPointFeatures>(bad).is_err(),
            "{bad}"
        );
    }
    let e = serde_json::from_str::<TwoPointFeatures>(r#"{"cutoff": "most"}"#).unwrap_err();
    assert!(e.to_string().contains("\"half\" or \"max\""), "{e}");
}
