package cpu

import (
	"math"

	"github.com/lightiam/lightos/engine/graph"
	"github.com/lightiam/lightos/engine/ops"
	"github.com/lightiam/lightos/engine/tensor"
)

// ai.onnx.ml kernels (the operators scikit-learn exporters emit), following ONNX
// Runtime's semantics for post_transform and binary classifiers. Inputs of any
// numeric dtype are computed in float64 and written as float32 scores.

func init() {
	registerExtra(ops.DomainML, "LinearRegressor", xSimple(xRunLinearRegressor))
	registerExtra(ops.DomainML, "LinearClassifier", xSimple(xRunLinearClassifier))
	registerExtra(ops.DomainML, "Normalizer", xSimple(xRunNormalizer))
	registerExtra(ops.DomainML, "Scaler", xSimple(xRunScaler))
	registerExtra(ops.DomainML, "Binarizer", xSimple(xRunBinarizer))
	registerExtra(ops.DomainML, "ArrayFeatureExtractor", xSimple(xRunArrayFeature))
	registerExtra(ops.DomainML, "TreeEnsembleRegressor", xSimple(xRunTreeRegressor))
	registerExtra(ops.DomainML, "TreeEnsembleClassifier", xSimple(xRunTreeClassifier))
}

// xMlRows returns X as rows of features (a 1-D X is one row).
func xMlRows(x *tensor.Tensor) (rows, cols int, v []float64) {
	v = toFloat64s(x)
	s := x.Shape()
	switch len(s) {
	case 0:
		return 1, 1, v
	case 1:
		return 1, s[0], v
	}
	return s[0], x.Len() / max(s[0], 1), v
}

func xMlFloats(a []float32) []float64 {
	out := make([]float64, len(a))
	for i, v := range a {
		out[i] = float64(v)
	}
	return out
}

func xMlSigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// postTransform applies an ONNX-ML post_transform to one row of scores in place.
func xMlPostTransform(n *graph.Node, row []float64) error {
	switch pt := n.Attrs.GetString("post_transform", "NONE"); pt {
	case "NONE":
	case "LOGISTIC":
		for i, v := range row {
			row[i] = xMlSigmoid(v)
		}
	case "SOFTMAX", "SOFTMAX_ZERO":
		m := math.Inf(-1)
		for _, v := range row {
			if pt == "SOFTMAX" || v != 0 {
				m = math.Max(m, v)
			}
		}
		var sum float64
		for i, v := range row {
			if pt == "SOFTMAX_ZERO" && v == 0 {
				continue
			}
			row[i] = math.Exp(v - m)
			sum += row[i]
		}
		for i, v := range row {
			if pt == "SOFTMAX" || v != 0 {
				row[i] = v / sum
			}
		}
	case "PROBIT":
		for i, v := range row {
			row[i] = math.Sqrt2 * math.Erfinv(2*v-1)
		}
	default:
		return xExtraErr(n, "unknown post_transform %q", pt)
	}
	return nil
}

func xRunLinearRegressor(n *graph.Node, in, out []*tensor.Tensor) error {
	rows, cols, x := xMlRows(in[0])
	targets := int(n.Attrs.GetInt("targets", 1))
	coef := xMlFloats(n.Attrs.GetFloats("coefficients", nil))
	icpt := xMlFloats(n.Attrs.GetFloats("intercepts", nil))
	if len(coef) != targets*cols {
		return xExtraErr(n, "%d coefficients for %d targets of %d features", len(coef), targets, cols)
	}
	y := make([]float64, rows*targets)
	for r := 0; r < rows; r++ {
		row := y[r*targets : (r+1)*targets]
		for t := range row {
			s := 0.0
			if t < len(icpt) {
				s = icpt[t]
			}
			for k := 0; k < cols; k++ {
				s += x[r*cols+k] * coef[t*cols+k]
			}
			row[t] = s
		}
		if err := xMlPostTransform(n, row); err != nil {
			return err
		}
	}
	fromFloat64s(out[0], y)
	return nil
}

func xMlLabels(n *graph.Node) []int64 {
	return n.Attrs.GetInts("classlabels_ints", n.Attrs.GetInts("classlabels_int64s", nil))
}

// xFinishClassifier turns raw per-class scores (one column for a binary model) into
// labels and transformed scores, as ONNX Runtime does.
func xFinishClassifier(n *graph.Node, rows, cols int, raw []float64, binaryThreshold float64, binaryProb bool, out []*tensor.Tensor) error {
	labels := xMlLabels(n)
	classes := len(labels)
	scores := make([]float64, rows*classes)
	lab := make([]float64, rows)
	for r := 0; r < rows; r++ {
		row := scores[r*classes : (r+1)*classes]
		if cols == 1 && classes == 2 {
			s := raw[r]
			lab[r] = float64(labels[0])
			if s > binaryThreshold {
				lab[r] = float64(labels[1])
			}
			if binaryProb {
				row[0], row[1] = 1-s, s
			} else {
				row[0], row[1] = -s, s
			}
			if n.Attrs.GetString("post_transform", "NONE") == "LOGISTIC" && !binaryProb {
				row[0], row[1] = xMlSigmoid(-s), xMlSigmoid(s)
				continue
			}
		} else {
			if cols != classes {
				return xExtraErr(n, "%d score columns for %d class labels", cols, classes)
			}
			copy(row, raw[r*cols:(r+1)*cols])
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			lab[r] = float64(labels[best])
		}
		if err := xMlPostTransform(n, row); err != nil {
			return err
		}
	}
	fromFloat64s(out[0], lab)
	if len(out) > 1 && out[1] != nil {
		fromFloat64s(out[1], scores)
	}
	return nil
}

func xRunLinearClassifier(n *graph.Node, in, out []*tensor.Tensor) error {
	rows, cols, x := xMlRows(in[0])
	coef := xMlFloats(n.Attrs.GetFloats("coefficients", nil))
	icpt := xMlFloats(n.Attrs.GetFloats("intercepts", nil))
	if cols == 0 || len(coef)%cols != 0 {
		return xExtraErr(n, "%d coefficients for %d features", len(coef), cols)
	}
	k := len(coef) / cols
	raw := make([]float64, rows*k)
	for r := 0; r < rows; r++ {
		for j := 0; j < k; j++ {
			s := 0.0
			if j < len(icpt) {
				s = icpt[j]
			}
			for f := 0; f < cols; f++ {
				s += x[r*cols+f] * coef[j*cols+f]
			}
			raw[r*k+j] = s
		}
	}
	return xFinishClassifier(n, rows, k, raw, 0, false, out)
}

func xRunNormalizer(n *graph.Node, in, out []*tensor.Tensor) error {
	rows, cols, x := xMlRows(in[0])
	norm := n.Attrs.GetString("norm", "MAX")
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		var d float64
		for _, v := range row {
			switch norm {
			case "MAX":
				d = math.Max(d, v)
			case "L1":
				d += math.Abs(v)
			case "L2":
				d += v * v
			default:
				return xExtraErr(n, "unknown norm %q", norm)
			}
		}
		if norm == "L2" {
			d = math.Sqrt(d)
		}
		if d != 0 {
			for i := range row {
				row[i] /= d
			}
		}
	}
	fromFloat64s(out[0], x)
	return nil
}

func xRunScaler(n *graph.Node, in, out []*tensor.Tensor) error {
	rows, cols, x := xMlRows(in[0])
	off := xMlFloats(n.Attrs.GetFloats("offset", nil))
	sc := xMlFloats(n.Attrs.GetFloats("scale", nil))
	pick := func(a []float64, i int, def float64) float64 {
		switch len(a) {
		case 0:
			return def
		case 1:
			return a[0]
		}
		return a[i]
	}
	if (len(off) > 1 && len(off) != cols) || (len(sc) > 1 && len(sc) != cols) {
		return xExtraErr(n, "offset (%d) and scale (%d) must have 1 or %d values", len(off), len(sc), cols)
	}
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			i := r*cols + c
			x[i] = (x[i] - pick(off, c, 0)) * pick(sc, c, 1)
		}
	}
	fromFloat64s(out[0], x)
	return nil
}

func xRunBinarizer(n *graph.Node, in, out []*tensor.Tensor) error {
	x := toFloat64s(in[0])
	th := float64(n.Attrs.GetFloat("threshold", 0))
	for i, v := range x {
		if v > th {
			x[i] = 1
		} else if !math.IsNaN(v) {
			x[i] = 0
		}
	}
	fromFloat64s(out[0], x)
	return nil
}

func xRunArrayFeature(n *graph.Node, in, out []*tensor.Tensor) error {
	x, idx := in[0], in[1]
	s := x.Shape()
	last := 1
	if len(s) > 0 {
		last = s[len(s)-1]
	}
	elem := x.DType().Size()
	rows := x.Len() / max(last, 1)
	k := idx.Len()
	src, dst := x.Bytes(), out[0].Bytes()
	for r := 0; r < rows; r++ {
		for j := 0; j < k; j++ {
			c, err := xWrapIndex(n, idx.Int64At(j), last)
			if err != nil {
				return err
			}
			copy(dst[(r*k+j)*elem:(r*k+j+1)*elem], src[(r*last+c)*elem:(r*last+c+1)*elem])
		}
	}
	return nil
}

// xTreeEnsemble is a decoded set of trees (ai.onnx.ml opset 1-3 attributes).
type xTreeEnsemble struct {
	feature   []int
	value     []float64
	mode      []string
	trueNext  []int
	falseNext []int
	missTrue  []bool
	leaf      map[int][]xTreeTarget // node index -> contributions
	roots     []int
}

type xTreeTarget struct {
	id int
	w  float64
}

func xDecodeTrees(n *graph.Node, prefix string) (*xTreeEnsemble, error) {
	a := n.Attrs
	tids, nids := a.GetInts("nodes_treeids", nil), a.GetInts("nodes_nodeids", nil)
	feats := a.GetInts("nodes_featureids", nil)
	vals := a.GetFloats("nodes_values", nil)
	if t, ok := a["nodes_values_as_tensor"]; ok && t.Tensor != nil {
		vals = nil
		for i := 0; i < t.Tensor.Len(); i++ {
			vals = append(vals, float32(t.Tensor.Float64At(i)))
		}
	}
	modes := a["nodes_modes"].Strings
	tn, fn := a.GetInts("nodes_truenodeids", nil), a.GetInts("nodes_falsenodeids", nil)
	miss := a.GetInts("nodes_missing_value_tracks_true", nil)
	m := len(nids)
	if len(tids) != m || len(feats) != m || len(vals) != m || len(modes) != m || len(tn) != m || len(fn) != m {
		return nil, xExtraErr(n, "tree node attributes have different lengths")
	}
	type key struct{ t, n int64 }
	index := map[key]int{}
	for i := 0; i < m; i++ {
		index[key{tids[i], nids[i]}] = i
	}
	e := &xTreeEnsemble{feature: make([]int, m), value: xMlFloats(vals), mode: modes,
		trueNext: make([]int, m), falseNext: make([]int, m), missTrue: make([]bool, m), leaf: map[int][]xTreeTarget{}}
	child := make([]bool, m)
	for i := 0; i < m; i++ {
		e.feature[i] = int(feats[i])
		if i < len(miss) {
			e.missTrue[i] = miss[i] != 0
		}
		if modes[i] == "LEAF" {
			continue
		}
		t, ok1 := index[key{tids[i], tn[i]}]
		f, ok2 := index[key{tids[i], fn[i]}]
		if !ok1 || !ok2 {
			return nil, xExtraErr(n, "tree %d node %d points to a missing node", tids[i], nids[i])
		}
		e.trueNext[i], e.falseNext[i] = t, f
		child[t], child[f] = true, true
	}
	for i := 0; i < m; i++ {
		if !child[i] {
			e.roots = append(e.roots, i)
		}
	}
	ttid, tnid := a.GetInts(prefix+"_treeids", nil), a.GetInts(prefix+"_nodeids", nil)
	tid, tw := a.GetInts(prefix+"_ids", nil), a.GetFloats(prefix+"_weights", nil)
	if len(ttid) != len(tnid) || len(tid) != len(tnid) || len(tw) != len(tnid) {
		return nil, xExtraErr(n, "%s attributes have different lengths", prefix)
	}
	for i := range tnid {
		leaf, ok := index[key{ttid[i], tnid[i]}]
		if !ok {
			return nil, xExtraErr(n, "%s %d names a missing node", prefix, i)
		}
		e.leaf[leaf] = append(e.leaf[leaf], xTreeTarget{int(tid[i]), float64(tw[i])})
	}
	return e, nil
}

// leafOf walks one tree from root for the sample x.
func (e *xTreeEnsemble) leafOf(n *graph.Node, root int, x []float64) (int, error) {
	i := root
	for steps := 0; e.mode[i] != "LEAF"; steps++ {
		if steps > len(e.mode) || e.feature[i] < 0 || e.feature[i] >= len(x) {
			return 0, xExtraErr(n, "tree walk left the feature range or looped")
		}
		v, th := x[e.feature[i]], e.value[i]
		var go2 bool
		if math.IsNaN(v) {
			go2 = e.missTrue[i]
		} else {
			switch e.mode[i] {
			case "BRANCH_LEQ":
				go2 = v <= th
			case "BRANCH_LT":
				go2 = v < th
			case "BRANCH_GTE":
				go2 = v >= th
			case "BRANCH_GT":
				go2 = v > th
			case "BRANCH_EQ":
				go2 = v == th
			case "BRANCH_NEQ":
				go2 = v != th
			default:
				return 0, xExtraErr(n, "unknown node mode %q", e.mode[i])
			}
		}
		if go2 {
			i = e.trueNext[i]
		} else {
			i = e.falseNext[i]
		}
	}
	return i, nil
}

// xTreeScores returns rows x width raw scores: base values plus aggregated leaf weights.
func xTreeScores(n *graph.Node, e *xTreeEnsemble, x []float64, rows, cols, width int, agg string) ([]float64, error) {
	base := xMlFloats(n.Attrs.GetFloats("base_values", nil))
	out := make([]float64, rows*width)
	for r := 0; r < rows; r++ {
		acc := out[r*width : (r+1)*width]
		seen := make([]bool, width)
		for _, root := range e.roots {
			leaf, err := e.leafOf(n, root, x[r*cols:(r+1)*cols])
			if err != nil {
				return nil, err
			}
			for _, t := range e.leaf[leaf] {
				if t.id < 0 || t.id >= width {
					return nil, xExtraErr(n, "target id %d is out of range [0, %d)", t.id, width)
				}
				switch {
				case !seen[t.id] || agg == "SUM" || agg == "AVERAGE":
					if !seen[t.id] && (agg == "MIN" || agg == "MAX") {
						acc[t.id] = t.w
					} else {
						acc[t.id] += t.w
					}
				case agg == "MIN":
					acc[t.id] = math.Min(acc[t.id], t.w)
				case agg == "MAX":
					acc[t.id] = math.Max(acc[t.id], t.w)
				}
				seen[t.id] = true
			}
		}
		for j := range acc {
			if agg == "AVERAGE" {
				acc[j] /= float64(len(e.roots))
			}
			if j < len(base) {
				acc[j] += base[j]
			}
		}
	}
	return out, nil
}

func xRunTreeRegressor(n *graph.Node, in, out []*tensor.Tensor) error {
	e, err := xDecodeTrees(n, "target")
	if err != nil {
		return err
	}
	rows, cols, x := xMlRows(in[0])
	width := int(n.Attrs.GetInt("n_targets", 1))
	y, err := xTreeScores(n, e, x, rows, cols, width, n.Attrs.GetString("aggregate_function", "SUM"))
	if err != nil {
		return err
	}
	for r := 0; r < rows; r++ {
		if err := xMlPostTransform(n, y[r*width:(r+1)*width]); err != nil {
			return err
		}
	}
	fromFloat64s(out[0], y)
	return nil
}

func xRunTreeClassifier(n *graph.Node, in, out []*tensor.Tensor) error {
	e, err := xDecodeTrees(n, "class")
	if err != nil {
		return err
	}
	rows, cols, x := xMlRows(in[0])
	classes := len(xMlLabels(n))
	width := classes
	maxID, positive := 0, true
	for _, id := range n.Attrs.GetInts("class_ids", nil) {
		maxID = max(maxID, int(id))
	}
	for _, w := range n.Attrs.GetFloats("class_weights", nil) {
		positive = positive && w >= 0
	}
	if classes == 2 && maxID == 0 {
		width = 1 // binary model with one score column
	}
	raw, err := xTreeScores(n, e, x, rows, cols, width, "SUM")
	if err != nil {
		return err
	}
	threshold := 0.0
	if positive {
		threshold = 0.5
	}
	return xFinishClassifier(n, rows, width, raw, threshold, positive, out)
}

func init() {
	registerExtra(ops.DomainML, "TreeEnsemble", xSimple(xRunTreeEnsemble5))
}

// xRunTreeEnsemble5 follows onnx/reference/ops/aionnxml/op_tree_ensemble.py, which
// leaves post_transform unapplied; so does this kernel.
func xRunTreeEnsemble5(n *graph.Node, in, out []*tensor.Tensor) error {
	a := n.Attrs
	tens := func(name string) []float64 {
		if t, ok := a[name]; ok && t.Kind == graph.AttrTensor && t.Tensor != nil {
			return toFloat64s(t.Tensor)
		}
		return nil
	}
	splits, weights, members, modesF := tens("nodes_splits"), tens("leaf_weights"), tens("membership_values"), tens("nodes_modes")
	feats := a.GetInts("nodes_featureids", nil)
	tn, fn := a.GetInts("nodes_truenodeids", nil), a.GetInts("nodes_falsenodeids", nil)
	tl, fl := a.GetInts("nodes_trueleafs", nil), a.GetInts("nodes_falseleafs", nil)
	miss := a.GetInts("nodes_missing_value_tracks_true", nil)
	targets := a.GetInts("leaf_targetids", nil)
	roots := a.GetInts("tree_roots", nil)
	nt := int(a.GetInt("n_targets", 1))
	m := len(feats)
	if len(splits) != m || len(modesF) != m || len(tn) != m || len(fn) != m || len(tl) != m || len(fl) != m || len(targets) != len(weights) {
		return xExtraErr(n, "tree attributes have inconsistent lengths")
	}
	// set members of each MEMBER node, in node order, NaN-separated in membership_values
	sets := map[int][]float64{}
	pos := 0
	for i := 0; i < m; i++ {
		if modesF[i] != 6 {
			continue
		}
		for pos < len(members) && !math.IsNaN(members[pos]) {
			sets[i] = append(sets[i], members[pos])
			pos++
		}
		pos++
	}
	rows, cols, x := xMlRows(in[0])
	agg := a.GetInt("aggregate_function", 1)
	res := make([]float64, rows*nt)
	for r := 0; r < rows; r++ {
		acc := res[r*nt : (r+1)*nt]
		for j := range acc {
			switch agg {
			case 2:
				acc[j] = math.Inf(1)
			case 3:
				acc[j] = math.Inf(-1)
			}
		}
		for _, root := range roots {
			i, leaf := int(root), false
			if i >= 0 && i < m && tl[i] != 0 && fl[i] != 0 && tn[i] == fn[i] {
				leaf = true // a tree that is a single leaf
			}
			for steps := 0; !leaf; steps++ {
				if i < 0 || i >= m || steps > m || int(feats[i]) >= cols || feats[i] < 0 {
					return xExtraErr(n, "tree walk left the node or feature range")
				}
				v := x[r*cols+int(feats[i])]
				s := splits[i]
				var t bool
				switch int(modesF[i]) {
				case 0:
					t = v <= s
				case 1:
					t = v < s
				case 2:
					t = v >= s
				case 3:
					t = v > s
				case 4:
					t = v == s
				case 5:
					t = v != s
				case 6:
					for _, mv := range sets[i] {
						t = t || v == mv
					}
				}
				if math.IsNaN(v) && i < len(miss) && miss[i] != 0 {
					t = true
				}
				if t {
					i, leaf = int(tn[i]), tl[i] != 0
				} else {
					i, leaf = int(fn[i]), fl[i] != 0
				}
			}
			if i < 0 || i >= len(weights) || targets[i] < 0 || int(targets[i]) >= nt {
				return xExtraErr(n, "leaf %d is out of range", i)
			}
			w, tid := weights[i], int(targets[i])
			switch agg {
			case 0:
				acc[tid] += w / float64(len(roots))
			case 2:
				acc[tid] = math.Min(acc[tid], w)
			case 3:
				acc[tid] = math.Max(acc[tid], w)
			default:
				acc[tid] += w
			}
		}
	}
	fromFloat64s(out[0], res)
	return nil
}
