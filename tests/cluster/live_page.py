#!/usr/bin/env python3
"""Drives the live page in headless Chromium over the DevTools protocol (python3-websocket).

live_page.py CDP_PORT SCREENSHOT NODE... where each NODE is ADDRESS,PAGE_URL,PID.
Opens the page of a node that is not the leader, waits until it shows round 2 committed, checks
the DOM (every member, a plot with points, the rounds table, events), saves a screenshot, then
kills the aggregator (the leader) and requires the page to show another leader within 2 s.
Prints one line per check; exits 1 with the reason on the first failure.
"""
import base64
import json
import os
import signal
import sys
import time
import urllib.request

import websocket


def fail(why):
    print(f"FAIL: {why}", flush=True)
    sys.exit(1)


class Page:
    def __init__(self, cdp_port):
        deadline = time.time() + 30
        while True:
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{cdp_port}/json", timeout=2))
                page = next(t for t in targets if t.get("type") == "page")
                break
            except Exception as e:  # Chromium still starting
                if time.time() > deadline:
                    fail(f"Chromium's DevTools did not answer on port {cdp_port}: {e}")
                time.sleep(0.2)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    fail(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return r.get("result", {}).get("value")

    def wait(self, expression, seconds, what):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.js(expression):
                return
            time.sleep(0.1)
        fail(f"the page did not show {what} within {seconds} s")


def main():
    cdp_port, screenshot = int(sys.argv[1]), sys.argv[2]
    nodes = [n.split(",") for n in sys.argv[3:]]
    page = Page(cdp_port)
    page.call("Page.enable")
    page.call("Page.navigate", url=nodes[0][1])
    page.wait("document.querySelector('#leader-address.leader') !== null", 60, "a leader")
    leader = page.js("document.getElementById('leader-address').textContent")
    viewer = next((n for n in nodes if n[0] != leader), None)
    if viewer is None:
        fail(f"no node besides the leader {leader}")
    if viewer[1] != nodes[0][1]:
        page.call("Page.navigate", url=viewer[1])
    page.wait("document.querySelector('#rounds tr[data-round=\"2\"]') !== null", 240, "round 2 committed")
    # Round 2's test metrics follow its commit in an entry of their own.
    page.wait("Number(document.getElementById('plot-quality').getAttribute('data-points')) >= 2", 60,
              "round 2's accuracy in the plot")
    members = page.js("document.querySelectorAll('#members tbody tr').length")
    if members != len(nodes):
        fail(f"the members table has {members} rows for {len(nodes)} members")
    points = page.js("Number(document.getElementById('plot-quality').getAttribute('data-points'))")
    if not points:
        fail("the accuracy plot has no points")
    events = page.js("document.querySelectorAll('#events tbody tr').length")
    if not events:
        fail("no recent events shown")
    paint = page.js("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
    painted = f", first contentful paint {paint:.0f} ms" if paint else ""
    print(f"page of {viewer[0]}: {members} members, round 2 committed, {points} plot points, {events} events{painted}",
          flush=True)
    shot = page.call("Page.captureScreenshot", format="png")
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print(f"screenshot: {screenshot}", flush=True)

    leader = page.js("document.getElementById('leader-address').textContent")
    victim = next((n for n in nodes if n[0] == leader), None)
    if victim is None:
        fail(f"the page names a leader {leader} that is not a member")
    killed_at = time.time()
    os.kill(int(victim[2]), signal.SIGKILL)
    shown = ("(() => { const l = document.getElementById('leader-address');"
             f" return l && l.classList.contains('leader') && l.textContent !== '{leader}'; }})()")
    deadline = killed_at + 2.0
    while time.time() < deadline:
        if page.js(shown):
            new = page.js("document.getElementById('leader-address').textContent")
            print(f"failover shown: {leader} killed, {new} leads on the page "
                  f"{(time.time() - killed_at) * 1000:.0f} ms later", flush=True)
            page.wait("document.querySelector('#events tr[data-event=\"leader_changed\"]') !== null", 5,
                      "the leader change among the events")
            return
        time.sleep(0.05)
    shows = page.js("document.getElementById('leader-address').textContent")
    fail(f"2 s after the aggregator {leader} was killed the page still shows '{shows}'")


main()
