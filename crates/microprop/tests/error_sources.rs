//! Errors about files keep the underlying error as their typed source, and the CLI prints
//! each cause once.

mod common;

use std::error::Error as _;

use microprop::model::SavedModel;
use microprop::table::Table;

#[test]
fn a_model_file_that_is_not_json_keeps_the_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.json");
    std::fs::write(&path, "{\"format\": \"microprop-model\"").unwrap();
    let err = SavedModel::load(&path).unwrap_err();
    assert!(matches!(err, microprop::Error::Model { .. }), "{err:?}");
    let source = err.source().expect("a source");
    let json = source
        .downcast_ref::<serde_json::Error>()
        .expect("the serde_json error itself");
    assert!(json.is_eof(), "{json}");
    assert!(err.to_string().contains("model.json"), "{err}");

    // The CLI quotes the parse error once, although it is both in the message and the source.
    let (ok, _, stderr) = common::microprop(&[
        "predict",
        path.to_str().unwrap(),
        dir.path().to_str().unwrap(),
    ]);
    assert!(!ok);
    let quoted = json.to_string();
    assert_eq!(stderr.matches(&quoted).count(), 1, "{stderr}");
}

#[test]
fn a_damaged_workbook_keeps_the_decoder_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.csv");
    std::fs::write(&path, b"name,E\na,1\n").unwrap();
    let table = Table::read(&path).unwrap();
    assert_eq!(table.rows(), 1);
    let broken = dir.path().join("broken.xlsx");
    std::fs::write(&broken, b"PK\x03\x04 not a zip archive").unwrap();
    let err = Table::read(&broken).unwrap_err();
    assert!(matches!(err, microprop::Error::Table { .. }), "{err:?}");
    assert!(err.to_string().contains("broken.xlsx"), "{err}");
    assert!(err.source().is_some(), "{err:?}");
}

#[test]
fn problems_without_an_underlying_error_have_no_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.csv");
    std::fs::write(&path, b"name,E\na,1\n").unwrap();
    let table = Table::read(&path).unwrap();
    let err = table.column("hardness").unwrap_err();
    assert!(err.to_string().contains("hardness"), "{err}");
    assert!(err.source().is_none(), "{err:?}");
}
