#!/usr/bin/env python3
"""scikit-learn reference of leave-one-paper-out on case 2, for the grouped-validation test.

Regenerate (from the repository root, with the case-2 data beside the repository):
    pip install numpy scikit-learn pandas openpyxl
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python3 scripts/case2_lopo_reference.py \
        ../shared/data/case2 crates/microprop/tests/fixtures/case2_lopo_reference.json

Samples: the 149 rows of data.xlsx (`Image_Name`; `Vickers Hardness (HV)`, else
`Vickers Hardness (Gpa)` × 1000 / 9.80665), features
`Features/<name>_dino_l.npy` (float32, used as float64). Groups: the `PaperN` prefix of the
name (19 papers). Outer LeaveOneGroupOut; in each training part
GridSearchCV(Pipeline([PCA(svd_solver="full"), SVR(kernel="linear")]),
{pca__n_components: 1..50}, cv=GroupKFold(5), scoring="neg_mean_absolute_percentage_error"),
refit, MAPE on the left-out paper. Also the mean predictor under the same outer split.
Writes the per-paper MAPEs, chosen components, their mean and the pooled MAPE.
"""
import json
import pathlib
import re
import sys

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.metrics import mean_absolute_percentage_error as mape
from sklearn.model_selection import GridSearchCV, GroupKFold, LeaveOneGroupOut
from sklearn.pipeline import Pipeline
from sklearn.svm import SVR


def main():
    data, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    table = pd.read_excel(data / "data.xlsx")
    names = [str(n).strip() for n in table["Image_Name"]]
    hv = pd.to_numeric(table["Vickers Hardness (HV)"], errors="coerce")
    gpa = pd.to_numeric(table["Vickers Hardness (Gpa) "], errors="coerce") * (1000.0 / 9.80665)
    y = hv.fillna(gpa).to_numpy(dtype=float)  # HV, else GPa converted (as the study's target)
    x = np.stack([np.load(data / "Features" / f"{n}_dino_l.npy").astype(np.float64).reshape(-1) for n in names])
    groups = np.array([re.match(r"^(Paper\d+)-", n).group(1) for n in names])
    pipe = Pipeline([("pca", PCA(svd_solver="full")), ("model", SVR(kernel="linear"))])
    grid = {"pca__n_components": list(range(1, 51))}
    fold_mape, fold_pcs, fold_group, pooled = [], [], [], np.zeros(len(y))
    base_mape, base_pooled = [], np.zeros(len(y))
    for tr, te in LeaveOneGroupOut().split(x, y, groups):
        gs = GridSearchCV(pipe, grid, cv=GroupKFold(5), scoring="neg_mean_absolute_percentage_error")
        gs.fit(x[tr], y[tr], groups=groups[tr])
        pred = gs.predict(x[te])
        pooled[te] = pred
        fold_mape.append(100 * mape(y[te], pred))
        fold_pcs.append(int(gs.best_params_["pca__n_components"]))
        fold_group.append(str(groups[te][0]))
        base_pooled[te] = y[tr].mean()
        base_mape.append(100 * mape(y[te], np.full(len(te), y[tr].mean())))
    result = {
        "groups": fold_group,
        "fold_mape": fold_mape,
        "fold_pcs": fold_pcs,
        "mape_mean": float(np.mean(fold_mape)),
        "pooled_mape": 100 * mape(y, pooled),
        "baseline_mape": float(np.mean(base_mape)),
        "baseline_pooled_mape": 100 * mape(y, base_pooled),
    }
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}))


if __name__ == "__main__":
    main()
