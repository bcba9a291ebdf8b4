// Builds Argo Workflows' workflow-controller at a pinned release for
// bench/bench_operator.sh (the peer that weir-operator is measured against).
// Not a library; nothing in weir imports it. A wrapper module because the
// module proxy refuses the version list that `go install mod@version` asks
// for when it checks for deprecations.
module weir.dev/bench/operator/argo

go 1.24.4

require github.com/argoproj/argo-workflows/v3 v3.6.18
