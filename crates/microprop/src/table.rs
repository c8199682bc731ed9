//! Property tables: CSV (csv), Parquet (polars, cargo feature `parquet`), XLSX (calamine),
//! read into named columns.

use std::path::{Path, PathBuf};

use calamine::{Data, Reader, open_workbook_auto};

use crate::config::Target;
use crate::error::{Error, Result};

/// One cell: its text (names) and its value as a number, where it reads as one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cell {
    /// The cell as text (`None` when empty).
    pub text: Option<String>,
    /// The cell as a number (`None` when empty or not numeric).
    pub number: Option<f64>,
}

/// A table of named columns, as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The file it was read from.
    pub path: PathBuf,
    /// Column names, in file order.
    pub header: Vec<String>,
    columns: Vec<Vec<Cell>>,
}

impl Table {
    /// Reads `.csv`, `.parquet` or `.xlsx`/`.xls`/`.ods` (first sheet, header in row 1).
    pub fn read(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let bad = |detail: String| table_error(path, detail);
        if !path.is_file() {
            return Err(bad("the table file does not exist".into()));
        }
        let read = || match ext.as_str() {
            "csv" => from_csv(path),
            "parquet" | "pq" => from_parquet(path),
            "xlsx" | "xlsm" | "xls" | "ods" => from_sheet(path),
            _ => Err(bad(format!(
                "unsupported table format `.{ext}` (use .csv, .parquet or .xlsx)"
            ))),
        };
        // The decoders assert on some corrupt files (polars' parquet reader does); such a
        // file is a bad input, not a crash.
        let (header, columns) = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)) {
            Ok(result) => result?,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| payload.downcast_ref::<&str>().copied())
                    .unwrap_or("a decoder panicked");
                return Err(bad(format!("the file is corrupt ({message})")));
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            header,
            columns,
        })
    }

    /// Number of data rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// The cells of a column (names match exactly, then ignoring case and outer spaces).
    pub fn column(&self, name: &str) -> Result<&[Cell]> {
        let exact = self.header.iter().position(|h| h == name);
        let loose = || {
            self.header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name.trim()))
        };
        match exact.or_else(loose) {
            Some(i) => Ok(&self.columns[i]),
            None => Err(table_error(
                &self.path,
                format!(
                    "missing column `{name}` (columns: {})",
                    self.header.join(", ")
                ),
            )),
        }
    }

    /// A column of names (trimmed text; empty cells are `None`).
    pub fn names(&self, name: &str) -> Result<Vec<Option<String>>> {
        Ok(self
            .column(name)?
            .iter()
            .map(|c| {
                c.text
                    .as_ref()
                    .map(|t| t.trim().to_string())
                    .filter(|t| !t.is_empty())
            })
            .collect())
    }
}

fn table_error(path: &Path, detail: String) -> Error {
    Error::Table {
        path: path.to_path_buf(),
        detail,
        source: None,
    }
}

type Columns = (Vec<String>, Vec<Vec<Cell>>);

/// Non-empty sheet cells with their `(row, column)`.
type SheetCells = Vec<((u32, u32), Data)>;

/// A CSV file with a header row; every cell is kept as its text (names such as `007` stay
/// as written) and read as a number where it parses as one.
fn from_csv(path: &Path) -> Result<Columns> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| table_error(path, e.to_string()).caused_by(e))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.iter().all(|h| h.trim().is_empty()) {
        return Err(table_error(path, "the CSV file has no header row".into()));
    }
    let mut columns: Vec<Vec<Cell>> = vec![Vec::new(); header.len()];
    for record in reader.records() {
        let record = record.map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
        for (column, field) in columns.iter_mut().zip(record.iter()) {
            column.push(if field.is_empty() {
                Cell::default()
            } else {
                Cell {
                    number: field.trim().parse().ok(),
                    text: Some(field.to_string()),
                }
            });
        }
    }
    Ok((header, columns))
}

/// A Parquet file, every column cast to text (polars).
#[cfg(feature = "parquet")]
fn from_parquet(path: &Path) -> Result<Columns> {
    use polars::prelude::{DataType, ParquetReader, SerReader, StringChunked};
    let file =
        std::fs::File::open(path).map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
    let mut header = Vec::new();
    let mut columns = Vec::new();
    for col in df.columns() {
        header.push(col.name().to_string());
        let text = col
            .cast(&DataType::String)
            .map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
        let text: &StringChunked = text
            .str()
            .map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
        let cells = text
            .iter()
            .map(|t| Cell {
                number: t.and_then(|s| s.trim().parse().ok()),
                text: t.map(str::to_string),
            })
            .collect();
        columns.push(cells);
    }
    Ok((header, columns))
}

#[cfg(not(feature = "parquet"))]
fn from_parquet(path: &Path) -> Result<Columns> {
    Err(table_error(
        path,
        "this build reads no Parquet (cargo feature `parquet`, on by default; `cargo xtask` \
         leaves it out): save the table as CSV, or rebuild with the feature (`cargo install \
         microprop`, or `cargo run -p xtask --features parquet -- ...`)"
            .into(),
    ))
}

fn from_sheet(path: &Path) -> Result<Columns> {
    let is_xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx") || e.eq_ignore_ascii_case("xlsm"));
    let cells: SheetCells = if is_xlsx {
        xlsx_cells(path)?
    } else {
        let mut book =
            open_workbook_auto(path).map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
        let sheet = book
            .worksheet_range_at(0)
            .ok_or_else(|| table_error(path, "the workbook has no sheet".into()))?
            .map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
        sheet
            .cells()
            .filter(|(_, _, v)| !matches!(v, Data::Empty))
            .map(|(r, c, v)| {
                let (r0, c0) = sheet.start().unwrap_or_default();
                ((r0 + r as u32, c0 + c as u32), v.clone())
            })
            .collect()
    };
    sheet_columns(path, cells)
}

/// The non-empty cells of an `.xlsx` file's first sheet, streamed (a sheet's declared extent
/// is never allocated).
fn xlsx_cells(path: &Path) -> Result<SheetCells> {
    let mut book: calamine::Xlsx<_> = calamine::open_workbook(path)
        .map_err(|e: calamine::XlsxError| table_error(path, e.to_string()).caused_by(e))?;
    let name = book
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| table_error(path, "the workbook has no sheet".into()))?;
    let mut reader = book
        .worksheet_cells_reader(&name)
        .map_err(|e| table_error(path, e.to_string()).caused_by(e))?;
    let mut cells = Vec::new();
    while let Some(cell) = reader
        .next_cell()
        .map_err(|e| table_error(path, e.to_string()).caused_by(e))?
    {
        let value = Data::from(cell.get_value().clone());
        if !matches!(value, Data::Empty) {
            cells.push((cell.get_position(), value));
        }
    }
    Ok(cells)
}

/// Columns from sparse cells: the first row with a cell is the header, columns span from the
/// leftmost to the rightmost cell. A sheet whose extent is far larger than its cells (a
/// stray cell at `XFD1048576`) is refused rather than allocated.
fn sheet_columns(path: &Path, cells: SheetCells) -> Result<Columns> {
    let (Some(r0), Some(c0)) = (
        cells.iter().map(|((r, _), _)| *r).min(),
        cells.iter().map(|((_, c), _)| *c).min(),
    ) else {
        return Err(table_error(path, "the sheet is empty".into()));
    };
    let r1 = cells.iter().map(|((r, _), _)| *r).max().unwrap_or(r0);
    let c1 = cells.iter().map(|((_, c), _)| *c).max().unwrap_or(c0);
    let (rows, cols) = ((r1 - r0) as u64 + 1, (c1 - c0) as u64 + 1);
    let limit = (cells.len() as u64 * 10).max(1_000_000);
    if rows * cols > limit {
        return Err(table_error(
            path,
            format!(
                "the sheet spans {rows} rows × {cols} columns but holds only {} cells; \
             a table is expected from its first cell on",
                cells.len()
            ),
        ));
    }
    let mut header = vec![String::new(); cols as usize];
    let mut columns = vec![vec![Cell::default(); rows as usize - 1]; cols as usize];
    for ((r, c), value) in cells {
        let (r, c) = ((r - r0) as usize, (c - c0) as usize);
        if r == 0 {
            header[c] = value.to_string().trim().to_string();
        } else {
            columns[c][r - 1] = sheet_cell(&value);
        }
    }
    Ok((header, columns))
}

fn sheet_cell(cell: &Data) -> Cell {
    match cell {
        Data::Empty => Cell::default(),
        Data::Float(v) => Cell {
            text: Some(if v.fract() == 0.0 && v.abs() < 1e15 {
                format!("{}", *v as i64)
            } else {
                v.to_string()
            }),
            number: Some(*v),
        },
        Data::Int(v) => Cell {
            text: Some(v.to_string()),
            number: Some(*v as f64),
        },
        other => {
            let text = other.to_string();
            Cell {
                number: text.trim().parse().ok(),
                text: Some(text),
            }
        }
    }
}

/// Known unit conversions: (from, to, factor).
const CONVERSIONS: &[(&str, &str, f64)] = &[
    ("GPa", "HV", 1000.0 / 9.80665),
    ("HV", "GPa", 9.80665 / 1000.0),
    ("MPa", "HV", 1.0 / 9.80665),
    ("kgf/mm2", "HV", 1.0),
    ("MPa", "GPa", 1e-3),
    ("GPa", "MPa", 1e3),
    ("Pa", "GPa", 1e-9),
];

impl Target {
    /// The factor from each source column's unit to the target's unit.
    fn factors(&self, table: &Table) -> Result<Vec<f64>> {
        self.columns
            .iter()
            .map(|c| {
                if let Some(s) = c.scale {
                    return if s.is_finite() && s != 0.0 {
                        Ok(s)
                    } else {
                        Err(table_error(
                            &table.path,
                            format!("column `{}`: scale {s} is not usable", c.column),
                        ))
                    };
                }
                let from = c.unit.as_deref().unwrap_or(&self.unit);
                if from.eq_ignore_ascii_case(&self.unit) {
                    return Ok(1.0);
                }
                CONVERSIONS
                    .iter()
                    .find(|(f, t, _)| {
                        f.eq_ignore_ascii_case(from) && t.eq_ignore_ascii_case(&self.unit)
                    })
                    .map(|c| c.2)
                    .ok_or_else(|| {
                        table_error(
                            &table.path,
                            format!(
                                "column `{}`: no conversion from {from} to {} (give \"scale\")",
                                c.column, self.unit
                            ),
                        )
                    })
            })
            .collect()
    }

    /// The target of every row, in the target's unit (`None` where every source is empty).
    pub fn values(&self, table: &Table) -> Result<Vec<Option<f64>>> {
        if self.columns.is_empty() {
            return Err(table_error(
                &table.path,
                format!("target `{}` names no column", self.name),
            ));
        }
        let factors = self.factors(table)?;
        let sources: Vec<&[Cell]> = self
            .columns
            .iter()
            .map(|c| table.column(&c.column))
            .collect::<Result<_>>()?;
        Ok((0..table.rows())
            .map(|r| {
                sources
                    .iter()
                    .zip(&factors)
                    .find_map(|(col, f)| col[r].number.map(|v| v * f))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TargetColumn;

    #[test]
    fn csv_columns_and_unit_conversion() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, "name,HV,GPa,x\na,100,,1\nb,,9.80665,2\nc,N/a,,3\n").unwrap();
        let t = Table::read(&path).unwrap();
        assert_eq!(t.rows(), 3);
        assert_eq!(
            t.names("name").unwrap(),
            vec![Some("a".into()), Some("b".into()), Some("c".into())]
        );
        let target = Target {
            name: "hardness".into(),
            unit: "HV".into(),
            columns: vec![
                TargetColumn {
                    column: "HV".into(),
                    unit: None,
                    scale: None,
                },
                TargetColumn {
                    column: "GPa".into(),
                    unit: Some("GPa".into()),
                    scale: None,
                },
            ],
        };
        let v = target.values(&t).unwrap();
        assert_eq!(v[0], Some(100.0));
        assert!((v[1].unwrap() - 1000.0).abs() < 1e-9);
        assert_eq!(v[2], None);
        let err = t.column("missing").unwrap_err().to_string();
        assert!(
            err.contains("missing column `missing`") && err.contains("t.csv"),
            "{err}"
        );
    }
}
