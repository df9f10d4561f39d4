package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kingpin/v2"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/augur-sre/augur/config"
)

// parseServeArgs parses args (after the "serve" command word) with augur's
// own flags, as the binary would: an unknown or misspelt flag fails.
func parseServeArgs(t *testing.T, where string, args []string) {
	t.Helper()
	app := kingpin.New("augur", "")
	app.Terminate(nil)
	serveCommand(app)
	if _, err := app.Parse(args); err != nil {
		t.Errorf("%s: augur %s: %v", where, strings.Join(args, " "), err)
	}
}

// loadsAsConfig loads an augur configuration as augur serve does; nil
// when it does not load.
func loadsAsConfig(t *testing.T, where string, data []byte) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "augur.yml")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p)
	if err != nil {
		t.Errorf("%s: %v", where, err)
	}
	return cfg
}

// TestKubernetesManifests decodes every object of deploy/kubernetes with
// the Kubernetes API types, rejecting unknown fields as the API server's
// strict validation does, and checks that the StatefulSet's arguments and
// the ConfigMap's configuration are augur's.
func TestKubernetesManifests(t *testing.T) {
	f, err := os.Open("../../deploy/kubernetes/augur.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := k8syaml.NewYAMLReader(bufio.NewReader(f))
	kinds := map[string]int{}
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := sigsyaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		kinds[meta.Kind]++
		var obj any
		switch meta.Kind {
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Service":
			obj = &corev1.Service{}
		case "StatefulSet":
			obj = &appsv1.StatefulSet{}
		case "PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "ServiceMonitor":
			// The Prometheus Operator's type: checked for the fields it needs.
			var sm struct {
				APIVersion string `json:"apiVersion"`
				Spec       struct {
					Selector struct {
						MatchLabels map[string]string `json:"matchLabels"`
					} `json:"selector"`
					Endpoints []map[string]any `json:"endpoints"`
				} `json:"spec"`
			}
			if err := sigsyaml.Unmarshal(doc, &sm); err != nil || sm.APIVersion != "monitoring.coreos.com/v1" || len(sm.Spec.Endpoints) == 0 || sm.Spec.Endpoints[0]["port"] != "http" {
				t.Errorf("ServiceMonitor: %+v, %v", sm, err)
			}
			continue
		default:
			t.Errorf("unexpected kind %q", meta.Kind)
			continue
		}
		if err := sigsyaml.UnmarshalStrict(doc, obj); err != nil {
			t.Errorf("%s: %v", meta.Kind, err)
			continue
		}
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			loadsAsConfig(t, "ConfigMap augur.yml", []byte(o.Data["augur.yml"]))
		case *appsv1.StatefulSet:
			c := o.Spec.Template.Spec.Containers[0]
			// The kubelet expands $(VAR) from the container's env.
			args := regexp.MustCompile(`\$\((POD_IP|POD_NAMESPACE)\)`).ReplaceAllStringFunc(strings.Join(c.Args, "\x00"), func(v string) string {
				return map[string]string{"$(POD_IP)": "10.0.0.7", "$(POD_NAMESPACE)": "augur"}[v]
			})
			parseServeArgs(t, "StatefulSet", strings.Split(args, "\x00"))
			if *o.Spec.Replicas != 3 || o.Spec.ServiceName != "augur-gossip" || len(o.Spec.VolumeClaimTemplates) != 1 ||
				c.ReadinessProbe.HTTPGet.Path != "/-/ready" || c.LivenessProbe.HTTPGet.Path != "/-/healthy" {
				t.Errorf("StatefulSet: want 3 replicas on the headless Service, a PVC and the probes: %+v", o.Spec)
			}
		}
	}
	for _, k := range []string{"ConfigMap", "StatefulSet", "PodDisruptionBudget", "ServiceMonitor"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s, want 1", kinds[k], k)
		}
	}
	if kinds["Service"] != 2 {
		t.Errorf("%d Services, want the headless one and the API's", kinds["Service"])
	}
}

// TestComposeFile parses deploy/compose: the services, augur's arguments
// and configuration, and that the files it mounts exist.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../deploy/compose/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Command []string `yaml:"command"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"augur-0", "augur-1", "prometheus", "alertmanager", "grafana"} {
		s, ok := c.Services[name]
		if !ok {
			t.Errorf("no service %s", name)
			continue
		}
		if strings.HasPrefix(name, "augur") {
			if len(s.Command) == 0 || s.Command[0] != "serve" {
				t.Errorf("%s: command %q", name, s.Command)
				continue
			}
			parseServeArgs(t, name, s.Command)
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join("../../deploy/compose", src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	cfg, err := os.ReadFile("../../deploy/compose/augur.yml")
	if err != nil {
		t.Fatal(err)
	}
	// augur remote-writes to the Prometheus whose receiver is on.
	if ac := loadsAsConfig(t, "deploy/compose/augur.yml", cfg); ac != nil && (len(ac.RemoteWrite) != 1 || ac.RemoteWrite[0].URL.String() != "http://prometheus:9090/api/v1/write") {
		t.Errorf("deploy/compose/augur.yml: remote_write %+v, want the compose file's Prometheus", ac.RemoteWrite)
	}
	if !slices.Contains(c.Services["prometheus"].Command, "--web.enable-remote-write-receiver") {
		t.Errorf("prometheus: command %q has no remote-write receiver", c.Services["prometheus"].Command)
	}
}

// TestDockerfile checks, where Docker is not at hand, that the image builds
// augur the way the README does and runs augur serve with valid flags.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"CGO_ENABLED=0 go build", "./cmd/augur", "USER 65534", "HEALTHCHECK", "/-/healthy", `ENTRYPOINT ["/augur"]`, "--storage.path=/data"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "go build ./cmd/augur") {
		t.Error("the README does not build with go build ./cmd/augur, which the Dockerfile does")
	}
	m := regexp.MustCompile(`(?m)^CMD (\[.*\])$`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal("no CMD")
	}
	var args []string
	if err := yaml.Unmarshal([]byte(m[1]), &args); err != nil {
		t.Fatal(err)
	}
	parseServeArgs(t, "Dockerfile CMD", args)
}
