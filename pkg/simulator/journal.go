package simulator

import corev1 "k8s.io/api/core/v1"

type opKind int

const (
	opAddNode opKind = iota
	opAddPod
	opPlace
	opRemovePod
	opObserve
	opUpdateNode
	opNextStart
)

// op is one undoable change.
type op struct {
	kind  opKind
	node  string
	pod   *corev1.Pod
	delta int
	prev  *corev1.Node // opUpdateNode: the node object before the update
}

// setNextStart moves the sampling cursor. Revert restores it, so that a
// trial cycle leaves no trace; it is not a change of the snapshot, so the
// version stays.
func (s *Simulator) setNextStart(i int) {
	if i == s.nextStart {
		return
	}
	s.journal = append(s.journal, op{kind: opNextStart, delta: s.nextStart})
	s.nextStart = i
}

// Mark is a point in the simulator's history.
type Mark int

func (s *Simulator) record(o op) {
	s.journal = append(s.journal, o)
	s.version++
}

// Version identifies the simulator's state for caches: it changes whenever
// the snapshot does (Revert included), unlike a Mark, which a revert and new
// changes may reach again.
func (s *Simulator) Version() uint64 { return s.version }

// Fork returns a mark to Revert to. Forks nest: reverting to an earlier
// mark also undoes later ones.
func (s *Simulator) Fork() Mark { return Mark(len(s.journal)) }

// Revert undoes every change made since m, newest first.
func (s *Simulator) Revert(m Mark) error {
	for i := len(s.journal) - 1; i >= int(m); i-- {
		o := s.journal[i]
		switch o.kind {
		case opAddNode:
			s.snap.removeNode(o.node)
		case opAddPod, opPlace:
			if err := s.snap.removePod(o.pod); err != nil {
				return err
			}
			delete(s.pods, key(o.pod))
			s.bound(o.pod, -1)
		case opRemovePod:
			if err := s.snap.addPod(o.pod); err != nil {
				return err
			}
			s.pods[key(o.pod)] = o.pod
		case opObserve:
			s.setSeen(o.pod, o.delta < 0)
		case opUpdateNode:
			s.snap.nodes[o.node].SetNode(o.prev)
		case opNextStart:
			s.nextStart = o.delta
		}
	}
	s.journal = s.journal[:m]
	s.version++
	return nil
}
