//go:build tools

// Package tools pins the command bench/bench_operator.sh builds.
package tools

import _ "github.com/argoproj/argo-workflows/v3/cmd/workflow-controller"
