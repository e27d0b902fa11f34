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
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
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

// runLoad sends reviews at a fixed rate (open loop: a slow answer does not
// slow the sender down) and reports the latency distribution.
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
	total := int(duration.Seconds() * float64(*rate))
	interval := time.Second / time.Duration(*rate)
	var mu sync.Mutex
	latencies := make([]float64, 0, total)
	errors, allowed, denied := 0, 0, 0
	var wg sync.WaitGroup
	sem := make(chan struct{}, *conns*4)
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			status, out, err := post(c, *url, bodies[i%len(bodies)])
			elapsed := time.Since(t0).Seconds() * 1000
			mu.Lock()
			defer mu.Unlock()
			if err != nil || status != 200 {
				errors++
				return
			}
			var ar admissionv1.AdmissionReview
			if json.Unmarshal(out, &ar) != nil || ar.Response == nil {
				errors++
				return
			}
			if ar.Response.Allowed {
				allowed++
			} else {
				denied++
			}
			latencies = append(latencies, elapsed)
		}(i)
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	sort.Float64s(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		i := int(p * float64(len(latencies)-1))
		return latencies[i]
	}
	emit(map[string]any{
		"sent": total, "answered": len(latencies), "errors": errors, "allowed": allowed, "denied": denied,
		"wall_s": wall, "throughput_rps": float64(len(latencies)) / wall, "target_rps": *rate,
		"p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0),
	})
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
