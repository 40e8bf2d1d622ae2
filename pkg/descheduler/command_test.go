package descheduler

import (
	"github.com/spf13/cobra"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad snug flags stop the command in PreRunE, before a client is built or
// a pod is looked at, with an error naming the flag.
func TestBadFlagsFailBeforeRunning(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: x\n  plugins: {score: {enabled: [{name: NoSuchPlugin}]}}\n  bogusField: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--plan-format=yaml"}, "--plan-format"},
		{[]string{"--scheduler-config=" + filepath.Join(t.TempDir(), "missing.yaml")}, "--scheduler-config"},
		{[]string{"--scheduler-config=" + bad}, "bogusField"},
	} {
		cmd := NewCommand(io.Discard)
		cmd.SetArgs(append(tc.args, "--kubeconfig=/nonexistent"))
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.RunE = func(*cobra.Command, []string) error { t.Errorf("%v: ran", tc.args); return nil }
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}
