//! Validation of a study config: everything that can be checked without reading data.

use super::{ExtractorSpec, Protocol, StudyConfig};

/// Whether `name` is usable in reports and file names (letters, digits, `-`, `_`).
fn file_name_safe(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The first name that appears twice in `names`.
fn duplicate(mut names: Vec<String>) -> Option<String> {
    names.sort();
    names
        .windows(2)
        .find(|w| w[0] == w[1])
        .map(|w| w[0].clone())
}

impl StudyConfig {
    /// [`StudyConfig::validate`]'s checks; the first problem, in words.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if self.features.is_empty() || self.models.is_empty() || self.aggregation.is_empty() {
            return Err("features, models and aggregation must each list at least one".into());
        }
        self.check_features()?;
        if self.with_extra_columns.is_empty() {
            return Err("with_extra_columns must list false, true or both".into());
        }
        if duplicate(self.features.iter().map(|f| f.name.clone()).collect()).is_some() {
            return Err("feature set names must be unique".into());
        }
        self.protocol.check()?;
        if let Some(u) = &self.uncertainty {
            u.check()?;
        }
        if self.protocol.grouped() && self.data.group.is_none() {
            return Err(
                "a grouped protocol needs data.group (a table column, or a regex with one \
                 capture group applied to the sample names)"
                    .into(),
            );
        }
        self.check_models()
    }

    fn check_features(&self) -> std::result::Result<(), String> {
        for f in &self.features {
            if !file_name_safe(&f.name) {
                return Err(format!(
                    "feature set name `{}` (use letters, digits, - and _)",
                    f.name
                ));
            }
        }
        for f in &self.features {
            if f.extractors.is_empty() {
                return Err(format!("feature set `{}` lists no extractor", f.name));
            }
            for e in &f.extractors {
                e.validate()
                    .map_err(|err| format!("feature set `{}`: {err}", f.name))?;
            }
        }
        let all_precomputed = self
            .features
            .iter()
            .all(|f| f.extractors.iter().all(ExtractorSpec::is_precomputed));
        if self.data.sections.is_empty() && !all_precomputed {
            return Err("data.sections is empty, but a feature set extracts from sections".into());
        }
        Ok(())
    }

    fn check_models(&self) -> std::result::Result<(), String> {
        if self
            .models
            .iter()
            .any(|m| self.protocol.max_pcs().of(&m.name()) == 0)
        {
            return Err("max_pcs must be at least 1".into());
        }
        for m in &self.models {
            let name = m.name();
            if !file_name_safe(&name) {
                return Err(format!(
                    "model name `{name}` (use letters, digits, - and _)"
                ));
            }
            m.grid().map_err(|e| e.to_string())?;
        }
        if let Some(name) = duplicate(self.models.iter().map(|m| m.name()).collect()) {
            return Err(format!(
                "two models are named `{name}`: give one a \"name\""
            ));
        }
        Ok(())
    }
}

impl Protocol {
    /// Fractions strictly between 0 and 1, at least 2 folds.
    fn check(&self) -> std::result::Result<(), String> {
        let fraction = |name: &str, v: f64| {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(format!("{name} {v} must be strictly between 0 and 1"))
            }
        };
        match self {
            Protocol::Holdout {
                test_size,
                val_size,
                ..
            } => {
                fraction("test_size", *test_size)?;
                fraction("val_size", *val_size)
            }
            Protocol::NestedCv { outer, inner, .. } | Protocol::GroupKfold { outer, inner, .. } => {
                if *outer < 2 || *inner < 2 {
                    return Err("the protocol needs at least 2 outer and 2 inner folds".into());
                }
                Ok(())
            }
            Protocol::LeaveOneGroupOut { inner, .. } => {
                if *inner < 2 {
                    return Err("leave_one_group_out needs at least 2 inner folds".into());
                }
                Ok(())
            }
        }
    }
}
