//! A position in a tree: the path from the root to one leaf entry.
//!
//! The path holds `Arc`s of the nodes, so a cursor keeps reading the version
//! of the tree it was created on, whatever is committed meanwhile.

use std::sync::Arc;

use crate::page::node::{Child, Node, Value};
use crate::pager::Pager;
use crate::Result;

/// A path from the root to a leaf entry; empty when unpositioned.
#[derive(Clone, Default)]
pub struct TreeCursor {
    root: Option<Child>,
    stack: Vec<(Arc<Node>, usize)>,
}

/// Where a seek lands relative to the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// First entry with key `>=` the key.
    Ge,
    /// First entry with key `>` the key.
    Gt,
    /// Last entry with key `<=` the key.
    Le,
    /// Last entry with key `<` the key.
    Lt,
}

impl TreeCursor {
    /// A cursor over the tree `root`.
    pub fn new(root: Option<Child>) -> TreeCursor {
        TreeCursor {
            root,
            stack: Vec::new(),
        }
    }

    /// The entry under the cursor.
    pub fn current(&self) -> Option<(&[u8], &Value)> {
        let (node, i) = self.stack.last()?;
        match &**node {
            Node::Leaf(l) => Some((&l.keys[*i], &l.values[*i])),
            Node::Branch(_) => None,
        }
    }

    /// Leaves the cursor unpositioned unless `r` found an entry, so that a
    /// failed or empty descent never leaves a branch on top of the path.
    fn settle(&mut self, r: Result<bool>) -> Result<bool> {
        if !matches!(r, Ok(true)) || self.current().is_none() {
            self.stack.clear();
        }
        r.map(|found| found && !self.stack.is_empty())
    }

    fn check_depth(&self, pager: &Pager, child: &Child) -> Result<()> {
        if self.stack.len() >= pager.max_depth() {
            return Err(pager.too_deep(match child {
                Child::Disk(r) => r.page,
                Child::Mem(_) => 0,
            }));
        }
        Ok(())
    }

    /// Descends from `child` always taking the first (or last) entry.
    fn descend_edge(&mut self, pager: &Pager, mut child: Child, last: bool) -> Result<bool> {
        loop {
            self.check_depth(pager, &child)?;
            let node = pager.node(&child)?;
            match &*node {
                Node::Leaf(l) => {
                    if l.keys.is_empty() {
                        return Ok(false);
                    }
                    let i = if last { l.keys.len() - 1 } else { 0 };
                    self.stack.push((node.clone(), i));
                    return Ok(true);
                }
                Node::Branch(b) => {
                    let i = if last { b.children.len() - 1 } else { 0 };
                    child = b.children[i].clone();
                    self.stack.push((node.clone(), i));
                }
            }
        }
    }

    /// Moves to the first entry.
    pub fn first(&mut self, pager: &Pager) -> Result<bool> {
        self.stack.clear();
        let r = match self.root.clone() {
            Some(r) => self.descend_edge(pager, r, false),
            None => Ok(false),
        };
        self.settle(r)
    }

    /// Moves to the last entry.
    pub fn last(&mut self, pager: &Pager) -> Result<bool> {
        self.stack.clear();
        let r = match self.root.clone() {
            Some(r) => self.descend_edge(pager, r, true),
            None => Ok(false),
        };
        self.settle(r)
    }

    /// Positions relative to `key`; returns whether an entry was found.
    pub fn seek(&mut self, pager: &Pager, key: &[u8], how: Seek) -> Result<bool> {
        let r = self.seek_inner(pager, key, how);
        self.settle(r)
    }

    fn seek_inner(&mut self, pager: &Pager, key: &[u8], how: Seek) -> Result<bool> {
        self.stack.clear();
        let Some(mut child) = self.root.clone() else {
            return Ok(false);
        };
        loop {
            self.check_depth(pager, &child)?;
            let node = pager.node(&child)?;
            match &*node {
                Node::Branch(b) => {
                    let i = super::child_index(b, key);
                    child = b.children[i].clone();
                    self.stack.push((node.clone(), i));
                }
                Node::Leaf(l) => {
                    let i = match how {
                        Seek::Ge | Seek::Lt => l.keys.partition_point(|k| k.as_slice() < key),
                        Seek::Gt | Seek::Le => l.keys.partition_point(|k| k.as_slice() <= key),
                    };
                    let len = l.keys.len();
                    self.stack.push((node.clone(), i));
                    return match how {
                        Seek::Ge | Seek::Gt => {
                            if i < len {
                                Ok(true)
                            } else {
                                self.stack.last_mut().expect("pushed").1 = len.saturating_sub(1);
                                if len == 0 {
                                    self.stack.clear();
                                    return Ok(false);
                                }
                                self.next_inner(pager)
                            }
                        }
                        Seek::Le | Seek::Lt => {
                            if i > 0 {
                                self.stack.last_mut().expect("pushed").1 = i - 1;
                                Ok(true)
                            } else {
                                self.stack.last_mut().expect("pushed").1 = 0;
                                if len == 0 {
                                    self.stack.clear();
                                    return Ok(false);
                                }
                                self.prev_inner(pager)
                            }
                        }
                    };
                }
            }
        }
    }

    /// Moves to the next entry; `false` (and unpositioned) past the end.
    pub fn next(&mut self, pager: &Pager) -> Result<bool> {
        let r = self.next_inner(pager);
        self.settle(r)
    }

    /// Moves to the previous entry; `false` (and unpositioned) before the
    /// start.
    pub fn prev(&mut self, pager: &Pager) -> Result<bool> {
        let r = self.prev_inner(pager);
        self.settle(r)
    }

    fn next_inner(&mut self, pager: &Pager) -> Result<bool> {
        if self.current().is_none() {
            self.stack.clear();
            return Ok(false);
        }
        if let Some((node, i)) = self.stack.last_mut() {
            if *i + 1 < node.len() {
                *i += 1;
                return Ok(true);
            }
        } else {
            return Ok(false);
        }
        self.stack.pop();
        while let Some((node, i)) = self.stack.last_mut() {
            if *i + 1 < node.len() {
                *i += 1;
                let Node::Branch(b) = &**node else {
                    unreachable!("inner path nodes are branches")
                };
                let child = b.children[*i].clone();
                return self.descend_edge(pager, child, false);
            }
            self.stack.pop();
        }
        Ok(false)
    }

    fn prev_inner(&mut self, pager: &Pager) -> Result<bool> {
        if self.current().is_none() {
            self.stack.clear();
            return Ok(false);
        }
        if let Some((_, i)) = self.stack.last_mut() {
            if *i > 0 {
                *i -= 1;
                return Ok(true);
            }
        } else {
            return Ok(false);
        }
        self.stack.pop();
        while let Some((node, i)) = self.stack.last_mut() {
            if *i > 0 {
                *i -= 1;
                let Node::Branch(b) = &**node else {
                    unreachable!("inner path nodes are branches")
                };
                let child = b.children[*i].clone();
                return self.descend_edge(pager, child, true);
            }
            self.stack.pop();
        }
        Ok(false)
    }
}
