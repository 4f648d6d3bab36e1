// THREAD algorithms (thread.h); the step numbers are RFC 5256 section 3's for REFERENCES.
#include "protocols/imap/thread.h"

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace ringmail::imap {

namespace {

constexpr int32_t kNone = -1;

struct node {
  int32_t msg = kNone;  // index into the messages; kNone: a dummy
  int32_t parent = kNone;
  std::vector<int32_t> children;
  // Step 6's sort key: sent date and sequence number (a dummy's: its first child's).
  int64_t date = 0;
  uint32_t seq = 0;
  int64_t newest = 0;  // REFS: the newest sent date in the subtree
};

class thread_builder {
 public:
  explicit thread_builder(std::span<const thread_message> messages) : m_(messages) {
    nodes_.reserve(messages.size() + 1);
    nodes_.emplace_back();  // nodes_[0]: the root of the root set (step 2), not a message
  }

  // The REFERENCES/REFS tree: nodes_[0].children are the threads, sorted.
  void build(bool group_subjects, bool newest_first_ordering) {
    link_messages();             // (1)
    gather_roots();              // (2); (3) "discard the id table": ids_ is not used again
    prune_dummies();             // (4)
    if (group_subjects) group_by_subject();  // (5)
    sort_siblings(newest_first_ordering);    // (6)
  }

  // ORDEREDSUBJECT: (subject, date, seq) runs; each run's first message is the parent.
  void build_ordered_subject() {
    std::vector<uint32_t> order(m_.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) {
      const sort_facts& a = *m_[x].values;
      const sort_facts& b = *m_[y].values;
      if (int c = a.subject.compare(b.subject); c != 0) return c < 0;
      if (a.sent_date != b.sent_date) return a.sent_date < b.sent_date;
      return m_[x].seq < m_[y].seq;
    });
    int32_t head = kNone;
    for (size_t i = 0; i < order.size(); ++i) {
      int32_t n = new_node(static_cast<int32_t>(order[i]));
      if (head != kNone && m_[nodes_[head].msg].values->subject == m_[order[i]].values->subject) {
        link(head, n);
      } else {
        link(0, n);
        head = n;
      }
    }
    // Threads by their first message's sent date (ties: sequence number); the children
    // are already in (date, seq) order.
    for (node& x : nodes_) {
      if (x.msg != kNone) {
        x.date = m_[x.msg].values->sent_date;
        x.seq = m_[x.msg].seq;
      }
    }
    sort_children(0, false);
  }

  std::string render(bool uid) const {
    // An explicit stack of things to write: a node's members or a fixed text.
    struct item {
      int32_t node;            // kNone: write `text`
      std::string_view text;
    };
    std::string out;
    std::vector<item> stack;
    auto push_children = [&](const node& x, bool parenthesise) {
      for (size_t i = x.children.size(); i-- > 0;) {
        if (parenthesise) stack.push_back({kNone, ")"});
        stack.push_back({x.children[i], {}});
        if (parenthesise) stack.push_back({kNone, "("});
      }
    };
    for (int32_t root : nodes_[0].children) {
      out += '(';
      stack.push_back({root, {}});
      while (!stack.empty()) {
        item it = stack.back();
        stack.pop_back();
        if (it.node == kNone) {
          out += it.text;
          continue;
        }
        const node& x = nodes_[it.node];
        if (x.msg == kNone) {
          // A dummy (only at the root after step 4/5): "((3)(5))".
          push_children(x, true);
          continue;
        }
        const thread_message& f = m_[x.msg];
        absl::StrAppend(&out, uid ? f.uid : f.seq);
        if (x.children.size() == 1) {
          stack.push_back({x.children[0], {}});
          stack.push_back({kNone, " "});
        } else if (x.children.size() > 1) {
          push_children(x, true);
          stack.push_back({kNone, " "});
        }
      }
      out += ')';
    }
    return out;
  }

 private:
  int32_t new_node(int32_t msg) {
    nodes_.emplace_back();
    nodes_.back().msg = msg;
    return static_cast<int32_t>(nodes_.size() - 1);
  }

  int32_t container_for(std::string_view id) {
    auto [it, inserted] = ids_.try_emplace(id, kNone);
    if (inserted) it->second = new_node(kNone);
    return it->second;
  }

  void link(int32_t parent, int32_t child) {
    nodes_[child].parent = parent;
    nodes_[parent].children.push_back(child);
  }

  void unlink(int32_t child) {
    int32_t p = nodes_[child].parent;
    if (p == kNone) return;
    std::vector<int32_t>& siblings = nodes_[p].children;
    // From the back: the link to break is most often the latest one made.
    for (size_t i = siblings.size(); i-- > 0;) {
      if (siblings[i] == child) {
        siblings.erase(siblings.begin() + static_cast<ptrdiff_t>(i));
        break;
      }
    }
    nodes_[child].parent = kNone;
  }

  // Whether parent -> child would close a loop: child is parent, or an ancestor of it.
  // A container without children is nobody's ancestor, so the walk (O(depth)) is only
  // made when the child has children: a fresh chain of 10,000 references costs O(1) a
  // link.
  bool would_loop(int32_t parent, int32_t child) const {
    if (parent == child) return true;
    if (nodes_[child].children.empty()) return false;
    for (int32_t p = nodes_[parent].parent; p != kNone; p = nodes_[p].parent) {
      if (p == child) return true;
    }
    return false;
  }

  // (1)
  void link_messages() {
    for (size_t i = 0; i < m_.size(); ++i) {
      const sort_facts& f = *m_[i].values;
      const int32_t msg = static_cast<int32_t>(i);
      // (1A) The message's container: the one its Message-ID names, unless another
      // message already holds it (a duplicate) or there is no Message-ID: then a
      // container of its own that no reference can reach.
      int32_t self;
      if (f.message_id.empty()) {
        self = new_node(msg);
      } else {
        self = container_for(f.message_id);
        if (nodes_[self].msg != kNone) {
          self = new_node(msg);
        } else {
          nodes_[self].msg = msg;
        }
      }
      // (1B) Each reference the parent of the next, unless the next already has one or
      // the link would make a loop.
      int32_t prev = kNone;
      for (const std::string& ref : f.references) {
        int32_t r = container_for(ref);
        if (prev != kNone && nodes_[r].parent == kNone && !would_loop(prev, r)) link(prev, r);
        prev = r;
      }
      // (1C) The last reference is the message's parent, replacing a presumed one,
      // unless that would make a loop.
      if (nodes_[self].parent == prev) continue;
      if (prev != kNone && would_loop(prev, self)) continue;
      unlink(self);
      if (prev != kNone) link(prev, self);
    }
  }

  // (2) The root set, in the order the containers were made; nodes_[0] holds it.
  void gather_roots() {
    for (size_t i = 1; i < nodes_.size(); ++i) {
      if (nodes_[i].parent == kNone) link(0, static_cast<int32_t>(i));
    }
  }

  // Post-order over the tree from nodes_[0], without recursion.
  template <typename F>
  void post_order(F visit) {
    std::vector<std::pair<int32_t, bool>> stack{{0, false}};
    while (!stack.empty()) {
      auto [x, expanded] = stack.back();
      stack.pop_back();
      if (expanded) {
        visit(x);
        continue;
      }
      stack.push_back({x, true});
      for (int32_t c : nodes_[x].children) stack.push_back({c, false});
    }
  }

  // (4) Children are pruned before their parent, so a dummy promoted into its parent's
  // list never brings dummies with it.
  void prune_dummies() {
    post_order([&](int32_t x) {
      std::vector<int32_t> kept;
      kept.reserve(nodes_[x].children.size());
      for (int32_t c : nodes_[x].children) {
        node& child = nodes_[c];
        if (child.msg != kNone) {
          kept.push_back(c);
        } else if (child.children.empty()) {
          // (4A) a dummy without children goes
        } else if (x != 0) {
          // (4B) promoted into a message's list
          for (int32_t g : child.children) {
            nodes_[g].parent = x;
            kept.push_back(g);
          }
          child.children.clear();
        } else if (child.children.size() == 1) {
          // (4B) into the root set when it is one message
          nodes_[child.children.front()].parent = kNone;
          kept.push_back(child.children.front());
          child.children.clear();
        } else {
          kept.push_back(c);
        }
      }
      nodes_[x].children = std::move(kept);
    });
  }

  // The message whose subject stands for root `r`: a dummy's oldest child (sent date,
  // then sequence number). RFC 5256 (5B) says "the first child"; Dovecot takes the
  // oldest ("sorting children will give us the oldest child"), which does not depend on
  // the order the links were made in.
  const thread_message& subject_message(int32_t r) const {
    const node& x = nodes_[r];
    if (x.msg != kNone) return m_[x.msg];
    const thread_message* best = nullptr;
    for (int32_t c : x.children) {
      const thread_message& f = m_[nodes_[c].msg];
      if (best == nullptr || f.values->sent_date < best->values->sent_date ||
          (f.values->sent_date == best->values->sent_date && f.seq < best->seq)) {
        best = &f;
      }
    }
    return *best;
  }

  // (5)
  void group_by_subject() {
    // The roots are taken in sent-date order (a dummy: its oldest child's), as Dovecot
    // walks them; RFC 5256 leaves the order open, and it decides which message a reply
    // joins ("5B" keeps the first original it meets, "5C" hangs a reply under the
    // table's message until a second original turns the entry into a dummy).
    std::vector<int32_t> roots = nodes_[0].children;
    std::stable_sort(roots.begin(), roots.end(), [&](int32_t a, int32_t b) {
      const thread_message& x = subject_message(a);
      const thread_message& y = subject_message(b);
      if (x.values->sent_date != y.values->sent_date) return x.values->sent_date < y.values->sent_date;
      return x.seq < y.seq;
    });
    // (5A, 5B) the subject table: a dummy beats a message, a message beats a reply.
    absl::flat_hash_map<std::string_view, int32_t> table;
    for (int32_t r : roots) {
      const sort_facts& f = *subject_message(r).values;
      if (f.subject.empty()) continue;
      auto [it, inserted] = table.try_emplace(f.subject, r);
      if (inserted) continue;
      const node& old = nodes_[it->second];
      const bool this_dummy = nodes_[r].msg == kNone;
      const bool old_dummy = old.msg == kNone;
      if (this_dummy && !old_dummy) {
        it->second = r;
      } else if (!this_dummy && !old_dummy && subject_message(it->second).values->reply_or_forward &&
                 !f.reply_or_forward) {
        it->second = r;
      }
    }
    // (5C) merge the other roots into the table's.
    std::vector<int32_t> replaced(nodes_.size(), kNone);  // table root -> its new dummy
    std::vector<bool> gone(nodes_.size(), false);
    for (int32_t r : roots) {
      const sort_facts& f = *subject_message(r).values;
      if (f.subject.empty()) continue;
      auto it = table.find(f.subject);
      int32_t t = it->second;
      if (t == r) continue;
      const bool this_dummy = nodes_[r].msg == kNone;
      const bool t_dummy = nodes_[t].msg == kNone;
      if (this_dummy && t_dummy) {
        for (int32_t c : nodes_[r].children) link(t, c);
        nodes_[r].children.clear();
        gone[r] = true;
      } else if (t_dummy) {
        link(t, r);
        gone[r] = true;
      } else if (f.reply_or_forward && !subject_message(t).values->reply_or_forward) {
        link(t, r);
        gone[r] = true;
      } else {
        int32_t d = new_node(kNone);
        replaced.push_back(kNone);
        gone.push_back(false);
        replaced[t] = d;
        link(d, t);
        link(d, r);
        gone[r] = true;
        it->second = d;
      }
    }
    std::vector<int32_t> now;
    now.reserve(roots.size());
    for (int32_t r : roots) {
      if (gone[r]) continue;
      int32_t d = replaced[r];
      if (d != kNone) {
        nodes_[d].parent = kNone;
        now.push_back(d);
      } else {
        now.push_back(r);
      }
    }
    nodes_[0].children = std::move(now);
  }

  void sort_children(int32_t x, bool by_newest) {
    std::vector<int32_t>& c = nodes_[x].children;
    if (by_newest) {
      std::sort(c.begin(), c.end(), [&](int32_t a, int32_t b) {
        const node& p = nodes_[a];
        const node& q = nodes_[b];
        if (p.newest != q.newest) return p.newest < q.newest;
        if (p.date != q.date) return p.date < q.date;
        return p.seq < q.seq;
      });
      return;
    }
    std::sort(c.begin(), c.end(), [&](int32_t a, int32_t b) {
      const node& p = nodes_[a];
      const node& q = nodes_[b];
      if (p.date != q.date) return p.date < q.date;
      return p.seq < q.seq;
    });
  }

  // (6) bottom-up: a list is sorted before its parent's key (a dummy's) is taken from it.
  void sort_siblings(bool refs) {
    post_order([&](int32_t x) {
      node& n = nodes_[x];
      const bool top = x == 0;
      sort_children(x, refs && top);
      if (top) return;
      if (n.msg != kNone) {
        n.date = m_[n.msg].values->sent_date;
        n.seq = m_[n.msg].seq;
        n.newest = n.date;
      } else if (!n.children.empty()) {
        n.date = nodes_[n.children.front()].date;
        n.seq = nodes_[n.children.front()].seq;
        n.newest = n.date;
      }
      for (int32_t c : n.children) n.newest = std::max(n.newest, nodes_[c].newest);
    });
  }

  std::span<const thread_message> m_;
  std::vector<node> nodes_;
  absl::flat_hash_map<std::string_view, int32_t> ids_;
};

}  // namespace

uint32_t thread_needs(thread_algorithm alg) {
  return alg == thread_algorithm::ordered_subject ? (need_subject | need_date)
                                                  : (need_subject | need_date | need_threading);
}

std::string thread_response(std::span<const sort_facts> messages, thread_algorithm alg, bool uid) {
  std::vector<thread_message> refs;
  refs.reserve(messages.size());
  for (const sort_facts& f : messages) refs.push_back({f.seq, f.uid, &f});
  return thread_response(refs, alg, uid);
}

std::string thread_response(std::span<const thread_message> messages, thread_algorithm alg, bool uid) {
  thread_builder b(messages);
  switch (alg) {
    case thread_algorithm::ordered_subject:
      b.build_ordered_subject();
      break;
    case thread_algorithm::references:
      b.build(true, false);
      break;
    case thread_algorithm::refs:
      b.build(false, true);
      break;
  }
  return b.render(uid);
}

}  // namespace ringmail::imap
