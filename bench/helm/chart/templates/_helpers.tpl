{{/*
The service names, as a JSON list: [name], or [name-0 ... name-(count-1)].
*/}}
{{- define "bench.names" -}}
{{- $name := required "name is required (--set name=SERVICE)" .Values.name -}}
{{- if gt (int .Values.count) 0 -}}
{{- $names := list -}}
{{- range $i := until (int .Values.count) -}}
{{- $names = append $names (printf "%s-%d" $name $i) -}}
{{- end -}}
{{- toJson $names -}}
{{- else -}}
{{- toJson (list $name) -}}
{{- end -}}
{{- end -}}

{{/*
The labels wildrun puts on every object of service `.`: the recipe's own
(app.kubernetes.io/name) and wildrun's instance label. wildrun's
app.kubernetes.io/managed-by=wildrun is Helm's here: Helm sets
app.kubernetes.io/managed-by=Helm on everything it makes.
*/}}
{{- define "bench.labels" -}}
app.kubernetes.io/name: {{ . }}
app.kubernetes.io/managed-by: Helm
wildrun.dev/instance: public.{{ . }}
{{- end -}}
