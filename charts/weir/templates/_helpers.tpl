{{/* Chart name, overridable. */}}
{{- define "weir.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Prefix of every resource name: the release name when it already contains
the chart name (release "weir" gives weir-operator), else <release>-<name>.
Leaves room for the longest suffix (-object-store) within 63 characters.
*/}}
{{- define "weir.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "weir.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "weir.operatorName" -}}
{{- printf "%s-operator" (include "weir.fullname" .) -}}
{{- end -}}

{{- define "weir.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" -}}
{{- end -}}

{{/* Labels on every object (weir.labels) and on the operator's (weir.operatorLabels). */}}
{{- define "weir.commonLabels" -}}
helm.sh/chart: {{ include "weir.chart" . }}
app.kubernetes.io/part-of: {{ include "weir.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "weir.labels" -}}
{{ include "weir.commonLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector of the operator pods (never changes across upgrades). */}}
{{- define "weir.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "weir.name" . }}-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "weir.operatorLabels" -}}
{{ include "weir.commonLabels" . }}
{{ include "weir.operatorSelectorLabels" . }}
{{- end -}}

{{- define "weir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "weir.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "weir.podServiceAccountName" -}}
{{- default (printf "%s-pipeline" (include "weir.fullname" .)) .Values.podServiceAccount.name -}}
{{- end -}}

{{/* Namespace where component pods run when it is one namespace. */}}
{{- define "weir.pipelineNamespace" -}}
{{- default .Release.Namespace .Values.watchNamespace -}}
{{- end -}}

{{- define "weir.leaseName" -}}
{{- default (include "weir.operatorName" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{- define "weir.objectStoreSecretName" -}}
{{- default (printf "%s-object-store" (include "weir.fullname" .)) .Values.objectStore.existingSecret -}}
{{- end -}}

{{- define "weir.metadataClaimName" -}}
{{- default (printf "%s-metadata" (include "weir.operatorName" .)) .Values.metadata.pvc.existingClaim -}}
{{- end -}}

{{- define "weir.image" -}}
{{- printf "%s/%s:%s" (trimSuffix "/" .Values.image.registry) .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
