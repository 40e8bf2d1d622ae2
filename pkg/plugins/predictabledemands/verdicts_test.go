package predictabledemands

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// A pod whose concerns are all cleared leaves no entry (the simulator never
// reports bindings, so nothing else would remove it); a concern still held
// keeps it.
func TestVerdictsForgetAPodWithNoConcernLeft(t *testing.T) {
	var v verdicts
	v.add("a", byRoom)
	v.add("b", byGate)
	v.add("b", byCaps)
	v.clear("a", byDemands|byRoom|byCaps)
	v.clear("b", byDemands|byRoom|byCaps)
	if _, ok := v.of("a"); ok || v.len() != 1 {
		t.Fatalf("after clearing a's only concern: %d entries, a recorded %v; want 1 entry (b)", v.len(), ok)
	}
	if c, ok := v.of(types.UID("b")); !ok || c != byGate {
		t.Errorf("b: %v %v, want byGate kept", c, ok)
	}
	v.clear("b", byGate)
	if v.len() != 0 {
		t.Errorf("%d entries after every concern cleared, want 0", v.len())
	}
	v.clear("never", byGate) // no entry: nothing to do
	if v.len() != 0 {
		t.Errorf("clear of an unknown pod added an entry")
	}
}
