#!/usr/bin/env python3
"""Case 2 from the 22 compositions alone, with no image feature: the yardstick the image
models of `cargo xtask reproduce case2 --beyond` should be read against.

Regenerate (from the repository root, with the case-2 data beside the repository):
    pip install numpy scikit-learn pandas openpyxl
    python3 scripts/case2_compositions_reference.py

StandardScaler -> RBF SVR (C from 10, 100, 1000, 10000 by inner folds) and StandardScaler ->
GP (constant x Matern 5/2 + white noise, normalize_y), under the paper's folds (outer
KFold(10, shuffle, 42), inner KFold(5, shuffle, 42)) and leaving one paper out (inner
GroupKFold(5)). Prints the mean outer-fold MAPE (%) of each.
"""
import re

import numpy as np
import pandas as pd
from sklearn.model_selection import LeaveOneGroupOut, GridSearchCV, GroupKFold, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVR
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel as C, Matern, WhiteKernel
from sklearn.metrics import mean_absolute_percentage_error as mape
t=pd.read_excel('../shared/data/case2/data.xlsx')
names=[str(n).strip() for n in t['Image_Name']]
hv=pd.to_numeric(t['Vickers Hardness (HV)'],errors='coerce'); g=pd.to_numeric(t['Vickers Hardness (Gpa) '],errors='coerce')*1000/9.80665
y=hv.fillna(g).to_numpy(float)
comp=["Al","W","Ta","Ti","Cr","Ni","Mo","Hf","C","Co","B","V","Si","Fe","Nb","Zr","Re","Cb","Ce","Mn","S","P"]
X=t[comp].apply(pd.to_numeric,errors='coerce').fillna(0).to_numpy(float)
groups=np.array([re.match(r'^(Paper\d+)-',n).group(1) for n in names])
def run(make, outer, label):
    ms=[]
    for tr,te in outer:
        m=make(); 
        if isinstance(m,GridSearchCV): m.fit(X[tr],y[tr],groups=groups[tr] if isinstance(m.cv,GroupKFold) else None)
        else: m.fit(X[tr],y[tr])
        ms.append(100*mape(y[te],m.predict(X[te])))
    print(label, np.mean(ms))
svr=lambda cv: GridSearchCV(Pipeline([('s',StandardScaler()),('m',SVR(kernel='rbf'))]),{'m__C':[10,100,1000,10000]},cv=cv,scoring='neg_mean_absolute_percentage_error')
gp=lambda: Pipeline([('s',StandardScaler()),('m',GaussianProcessRegressor(C()*Matern(nu=2.5)+WhiteKernel(),normalize_y=True))])
lopo=list(LeaveOneGroupOut().split(X,y,groups)); kf=list(KFold(10,shuffle=True,random_state=42).split(X))
run(lambda: svr(GroupKFold(5)), lopo, 'comp svr lopo')
run(lambda: svr(KFold(5,shuffle=True,random_state=42)), kf, 'comp svr paper')
run(gp, lopo, 'comp gp lopo'); run(gp, kf, 'comp gp paper')
