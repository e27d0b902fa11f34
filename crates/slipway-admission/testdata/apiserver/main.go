// Command apiserver stands in for the Kubernetes API server in slipway's
// admission webhook tests and benchmark. It builds AdmissionReview requests
// with the real k8s.io/api types, posts them over TLS the way the API server
// does, decodes the answer with the same types and applies a JSONPatch with
// the library the API server applies it with.
//
//	apiserver review -url URL -ca CA.pem -kind Pod -namespace NS -image IMG [-image IMG] [-init IMG]
//	apiserver raw -url URL -ca CA.pem -file BODY (or -size N for N bytes of junk)
//	apiserver load -url URL -ca CA.pem -rate 500 -duration 10s -image IMG ...
//
// Each prints one JSON object on stdout.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

type images []string

func (i *images) String() string     { return strings.Join(*i, ",") }
func (i *images) Set(v string) error { *i = append(*i, v); return nil }

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "apiserver: "+format+"\n", args...)
	os.Exit(2)
}

func client(caFile string, conns int) *http.Client {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		fail("reading the CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fail("%s holds no PEM certificate", caFile)
	}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: conns,
			MaxConnsPerHost:     conns,
		},
	}
}

func podSpec(containers, inits images) corev1.PodSpec {
	spec := corev1.PodSpec{}
	for i, img := range containers {
		spec.Containers = append(spec.Containers, corev1.Container{Name: fmt.Sprintf("c%d", i), Image: img})
	}
	for i, img := range inits {
		spec.InitContainers = append(spec.InitContainers, corev1.Container{Name: fmt.Sprintf("init%d", i), Image: img})
	}
	return spec
}

// object builds the workload of kind `kind` and its GroupVersionKind and resource.
func object(kind, namespace string, containers, inits images) (runtime.Object, metav1.GroupVersionKind, metav1.GroupVersionResource) {
	meta := metav1.ObjectMeta{Name: "app", Namespace: namespace}
	labels := map[string]string{"app": "app"}
	template := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(containers, inits)}
	selector := &metav1.LabelSelector{MatchLabels: labels}
	switch kind {
	case "Pod":
		return &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: meta, Spec: podSpec(containers, inits)},
			metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			metav1.GroupVersionResource{Version: "v1", Resource: "pods"}
	case "Deployment":
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta,
				Spec: appsv1.DeploymentSpec{Selector: selector, Template: template}},
			metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	case "StatefulSet":
		return &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"}, ObjectMeta: meta,
				Spec: appsv1.StatefulSetSpec{Selector: selector, Template: template}},
			metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"},
			metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}
	case "DaemonSet":
		return &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"}, ObjectMeta: meta,
				Spec: appsv1.DaemonSetSpec{Selector: selector, Template: template}},
			metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"},
			metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}
	case "Job":
		return &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"}, ObjectMeta: meta,
				Spec: batchv1.JobSpec{Template: template}},
			metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"},
			metav1.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
	case "CronJob":
		return &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"}, ObjectMeta: meta,
				Spec: batchv1.CronJobSpec{Schedule: "*/5 * * * *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: template}}}},
			metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"},
			metav1.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}
	}
	fail("unknown kind %q: use Pod, Deployment, StatefulSet, DaemonSet, Job or CronJob", kind)
	return nil, metav1.GroupVersionKind{}, metav1.GroupVersionResource{}
}

// review builds one AdmissionReview request body and the object's JSON.
func review(uid, kind, namespace string, containers, inits images) ([]byte, []byte) {
	obj, gvk, gvr := object(kind, namespace, containers, inits)
	raw, err := json.Marshal(obj)
	if err != nil {
		fail("encoding the object: %v", err)
	}
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID(uid),
			Kind:      gvk,
			Resource:  gvr,
			Name:      "app",
			Namespace: namespace,
			Operation: admissionv1.Create,
			UserInfo:  authUser(),
			Object:    runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(&ar)
	if err != nil {
		fail("encoding the review: %v", err)
	}
	return body, raw
}

func post(c *http.Client, url string, body []byte) (int, []byte, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// containerImages maps container name to image in a decoded workload object
// of kind `kind`.
func containerImages(kind string, obj []byte) map[string]string {
	var v map[string]any
	_ = json.Unmarshal(obj, &v)
	path := []string{"spec", "template", "spec"}
	switch kind {
	case "Pod":
		path = []string{"spec"}
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	}
	var spec any = v
	for _, key := range path {
		m, _ := spec.(map[string]any)
		spec = m[key]
	}
	out := map[string]string{}
	m, _ := spec.(map[string]any)
	for _, list := range []string{"containers", "initContainers", "ephemeralContainers"} {
		cs, _ := m[list].([]any)
		for _, c := range cs {
			cm, _ := c.(map[string]any)
			name, _ := cm["name"].(string)
			img, _ := cm["image"].(string)
			out[name] = img
		}
	}
	return out
}

func authUser() authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: "system:serviceaccount:kube-system:replicaset-controller", Groups: []string{"system:serviceaccounts"}}
}

func runReview(args []string) {
	fs := flag.NewFlagSet("review", flag.ExitOnError)
	url := fs.String("url", "", "webhook URL")
	ca := fs.String("ca", "", "CA certificate (PEM)")
	kind := fs.String("kind", "Pod", "workload kind")
	ns := fs.String("namespace", "default", "namespace")
	uid := fs.String("uid", "0d7e6c3a-5b1f-4a8e-9c2d-1f0e2d3c4b5a", "request UID")
	var containers, inits images
	fs.Var(&containers, "image", "container image (repeat)")
	fs.Var(&inits, "init", "init container image (repeat)")
	_ = fs.Parse(args)
	body, raw := review(*uid, *kind, *ns, containers, inits)
	status, out, err := post(client(*ca, 1), *url, body)
	if err != nil {
		fail("POST %s: %v", *url, err)
	}
	result := map[string]any{"http_status": status}
	if status != http.StatusOK {
		result["body"] = string(out)
		emit(result)
		return
	}
	var ar admissionv1.AdmissionReview
	if err := json.Unmarshal(out, &ar); err != nil {
		fail("decoding the answer %q: %v", out, err)
	}
	if ar.APIVersion != "admission.k8s.io/v1" || ar.Kind != "AdmissionReview" || ar.Response == nil {
		fail("the answer is not an admission.k8s.io/v1 AdmissionReview with a response: %s", out)
	}
	r := ar.Response
	result["uid_matches"] = string(r.UID) == *uid
	result["allowed"] = r.Allowed
	if r.Result != nil {
		result["code"] = r.Result.Code
		result["message"] = r.Result.Message
	}
	result["warnings"] = r.Warnings
	if r.PatchType != nil {
		result["patch_type"] = string(*r.PatchType)
	}
	if len(r.Patch) > 0 {
		var ops any
		_ = json.Unmarshal(r.Patch, &ops)
		result["patch"] = ops
		patch, err := jsonpatch.DecodePatch(r.Patch)
		if err != nil {
			fail("the patch does not decode as JSONPatch: %v", err)
		}
		patched, err := patch.Apply(raw)
		if err != nil {
			fail("the patch does not apply to the object: %v", err)
		}
		result["patched_images"] = containerImages(*kind, patched)
	}
	emit(result)
}

func runRaw(args []string) {
	fs := flag.NewFlagSet("raw", flag.ExitOnError)
	url := fs.String("url", "", "URL")
	ca := fs.String("ca", "", "CA certificate (PEM)")
	file := fs.String("file", "", "request body")
	size := fs.Int("size", 0, "send this many bytes of an AdmissionReview-looking body instead")
	method := fs.String("method", "POST", "GET or POST")
	_ = fs.Parse(args)
	var body []byte
	switch {
	case *file != "":
		b, err := os.ReadFile(*file)
		if err != nil {
			fail("%v", err)
		}
		body = b
	case *size > 0:
		body = append([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"`), bytes.Repeat([]byte("x"), *size)...)
		body = append(body, []byte(`"}}`)...)
	}
	req, err := http.NewRequest(*method, *url, bytes.NewReader(body))
	if err != nil {
		fail("%v", err)
	}
	if *method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client(*ca, 1).Do(req)
	if err != nil {
		fail("%s %s: %v", *method, *url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	emit(map[string]any{"http_status": resp.StatusCode, "content_type": resp.Header.Get("Content-Type"), "body": string(out)})
}

// runLoad sends reviews at a fixed rate, open loop: request i is due at
// start + i/rate whatever became of the ones before, and its latency is
// counted from that due time, so a stalled sender or a full connection pool
// shows up as latency instead of silently thinning the load (coordinated
// omission). The pool of keep-alive connections is opened before timing
// (GET /healthz), as a running API server has its connections open. The
// generator's own CPU time is reported: on a small machine it competes
// with the webhook.
func runLoad(args []string) {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "", "webhook URL")
	ca := fs.String("ca", "", "CA certificate (PEM)")
	rate := fs.Int("rate", 500, "requests per second")
	duration := fs.Duration("duration", 10*time.Second, "how long to send")
	conns := fs.Int("conns", 32, "connections at most")
	kind := fs.String("kind", "Pod", "workload kind")
	ns := fs.String("namespace", "default", "namespace")
	var containers images
	fs.Var(&containers, "image", "container image (repeat; requests cycle through them)")
	_ = fs.Parse(args)
	if len(containers) == 0 || *rate <= 0 {
		fail("load needs -image and a positive -rate")
	}
	c := client(*ca, *conns)
	bodies := make([][]byte, len(containers))
	for i, img := range containers {
		bodies[i], _ = review(fmt.Sprintf("load-%d", i), *kind, *ns, images{img}, nil)
	}
	// Open the pool: conns concurrent GET /healthz on the same host.
	health := *url
	if i := strings.Index(health[len("https://"):], "/"); i >= 0 {
		health = health[:len("https://")+i] + "/healthz"
	}
	var warm sync.WaitGroup
	for i := 0; i < *conns; i++ {
		warm.Add(1)
		go func() {
			defer warm.Done()
			if resp, err := c.Get(health); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	warm.Wait()
	var opened atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			opened.Add(1)
		}
	}}
	total := int(duration.Seconds() * float64(*rate))
	interval := time.Second / time.Duration(*rate)
	type sample struct{ fromDue, service float64 }
	results := make([]sample, total)
	ok := make([]int8, total) // 0 error, 1 allowed, 2 denied
	var late atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, *conns*4)
	cpu0 := cpuSeconds()
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, due time.Time) {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			if t0.Sub(due) > time.Millisecond {
				late.Add(1)
			}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
				http.MethodPost, *url, bytes.NewReader(bodies[i%len(bodies)]))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			status, out, err := do(c, req)
			end := time.Now()
			if err != nil || status != 200 {
				return
			}
			var ar admissionv1.AdmissionReview
			if json.Unmarshal(out, &ar) != nil || ar.Response == nil {
				return
			}
			results[i] = sample{end.Sub(due).Seconds() * 1000, end.Sub(t0).Seconds() * 1000}
			if ar.Response.Allowed {
				ok[i] = 1
			} else {
				ok[i] = 2
			}
		}(i, due)
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0
	var fromDue, service []float64
	errors, allowed, denied := 0, 0, 0
	for i, r := range results {
		switch ok[i] {
		case 0:
			errors++
			continue
		case 1:
			allowed++
		case 2:
			denied++
		}
		fromDue = append(fromDue, r.fromDue)
		service = append(service, r.service)
	}
	sort.Float64s(fromDue)
	sort.Float64s(service)
	pct := func(l []float64, p float64) float64 {
		if len(l) == 0 {
			return 0
		}
		return l[int(p*float64(len(l)-1))]
	}
	emit(map[string]any{
		"sent": total, "answered": len(fromDue), "errors": errors, "allowed": allowed, "denied": denied,
		"wall_s": wall, "throughput_rps": float64(len(fromDue)) / wall, "target_rps": *rate,
		"p50_ms": pct(fromDue, 0.50), "p90_ms": pct(fromDue, 0.90), "p99_ms": pct(fromDue, 0.99),
		"max_ms":         pct(fromDue, 1.0),
		"service_p50_ms": pct(service, 0.50), "service_p99_ms": pct(service, 0.99),
		"late_sends": late.Load(), "connections_opened": opened.Load(),
		"generator_cpu_s": cpu, "generator_cpu_us_per_request": cpu / float64(total) * 1e6,
	})
}

// do sends req and reads the whole answer.
func do(c *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// cpuSeconds is this process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func emit(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: apiserver review|raw|load [flags]")
	}
	switch os.Args[1] {
	case "review":
		runReview(os.Args[2:])
	case "raw":
		runRaw(os.Args[2:])
	case "load":
		runLoad(os.Args[2:])
	default:
		fail("unknown command %q: use review, raw or load", os.Args[1])
	}
}
