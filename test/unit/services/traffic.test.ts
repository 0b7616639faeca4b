import { describe, expect, test } from "bun:test";
import { MIRROR_OUTPUT_MAX, type TrafficState, dockerHealth, lastProbeOutput, trafficDecision } from "../../../src/services/traffic.ts";
import type { HealthMode } from "../../../src/types.ts";

const probe = (Output: string, ExitCode = 0) => ({ Start: "2026-12-01T09:00:00Z", End: "2026-12-01T09:00:01Z", ExitCode, Output });
const withHealth = (Status: string, outputs: string[] = [], extra: Partial<TrafficState> = {}): TrafficState => ({
  Running: true,
  Paused: false,
  Health: { Status, Log: outputs.map((o) => probe(o)) },
  ...extra,
});
const noHealthcheck: TrafficState = { Running: true, Paused: false };
const MODES: HealthMode[] = ["auto", "require", "ignore"];

describe("containers without a HEALTHCHECK", () => {
  test("are registered without a mirror in every mode, on every backend", () => {
    for (const health of MODES) {
      for (const mirrorsHealth of [true, false]) {
        expect(trafficDecision({ state: noHealthcheck, health, mirrorsHealth })).toEqual({ register: true });
        expect(trafficDecision({ state: { Running: true, Health: { Status: "none" } }, health, mirrorsHealth })).toEqual({ register: true });
        expect(trafficDecision({ state: { Running: true, Health: null }, health, mirrorsHealth })).toEqual({ register: true });
      }
    }
  });
  test("a missing State is treated as no HEALTHCHECK", () => {
    expect(trafficDecision({ state: undefined, mirrorsHealth: true })).toEqual({ register: true });
  });
  test("paused: out of traffic in auto and require, registered in ignore", () => {
    const state = { Running: true, Paused: true };
    for (const mirrorsHealth of [true, false]) {
      expect(trafficDecision({ state, health: "auto", mirrorsHealth })).toEqual({ register: false, reason: "paused" });
      expect(trafficDecision({ state, health: "require", mirrorsHealth })).toEqual({ register: false, reason: "paused" });
      expect(trafficDecision({ state, health: "ignore", mirrorsHealth })).toEqual({ register: true });
    }
  });
});

describe("auto on a backend that mirrors health", () => {
  const decide = (state: TrafficState) => trafficDecision({ state, health: "auto", mirrorsHealth: true });
  test("healthy: registered with a passing mirror carrying the last probe output", () => {
    expect(decide(withHealth("healthy", ["first", "  ok: 200\n"]))).toEqual({ register: true, mirror: { status: "passing", output: "ok: 200" } });
  });
  test("starting: registered with a critical mirror, reason starting", () => {
    expect(decide(withHealth("starting"))).toEqual({
      register: true,
      mirror: { status: "critical", output: "Docker health: starting (no probe has finished yet)" },
      reason: "starting",
    });
  });
  test("unhealthy: critical with Docker's output", () => {
    expect(decide(withHealth("unhealthy", ["connection refused"]))).toEqual({
      register: true,
      mirror: { status: "critical", output: "connection refused" },
      reason: "unhealthy",
    });
  });
  test("paused is critical even when Docker last said healthy", () => {
    expect(decide(withHealth("healthy", ["ok"], { Paused: true }))).toEqual({
      register: true,
      mirror: { status: "critical", output: "Container is paused (last Docker health probe: ok)" },
      reason: "paused",
    });
  });
  test("the default mode is auto", () => {
    expect(trafficDecision({ state: withHealth("unhealthy", ["x"]), mirrorsHealth: true })).toEqual(decide(withHealth("unhealthy", ["x"])));
  });
  test("an unknown Docker status counts as unhealthy", () => {
    expect(decide(withHealth("sick"))).toEqual({ register: true, mirror: { status: "critical", output: "Docker health: sick" }, reason: "unhealthy" });
  });
});

describe("require, and auto on backends without health", () => {
  for (const [health, mirrorsHealth] of [["require", true], ["require", false], ["auto", false]] as const) {
    const decide = (state: TrafficState) => trafficDecision({ state, health, mirrorsHealth });
    test(`${health}, mirrorsHealth=${mirrorsHealth}: only healthy is registered, never with a mirror`, () => {
      expect(decide(withHealth("healthy", ["ok"]))).toEqual({ register: true });
      expect(decide(withHealth("starting"))).toEqual({ register: false, reason: "starting" });
      expect(decide(withHealth("unhealthy", ["boom"]))).toEqual({ register: false, reason: "unhealthy" });
      expect(decide(withHealth("healthy", ["ok"], { Paused: true }))).toEqual({ register: false, reason: "paused" });
    });
  }
});

describe("ignore", () => {
  test("health and pause change nothing", () => {
    for (const mirrorsHealth of [true, false]) {
      for (const s of ["starting", "healthy", "unhealthy"]) {
        expect(trafficDecision({ state: withHealth(s, ["x"], { Paused: true }), health: "ignore", mirrorsHealth })).toEqual({ register: true });
      }
    }
  });
});

describe("stopping", () => {
  test("out of traffic in every mode, with or without a HEALTHCHECK", () => {
    for (const health of MODES) {
      for (const state of [noHealthcheck, withHealth("healthy", ["ok"])]) {
        expect(trafficDecision({ state, health, mirrorsHealth: true, stopping: true })).toEqual({ register: false, reason: "stopping" });
      }
    }
  });
});

describe("helpers", () => {
  test("dockerHealth: none and empty mean no HEALTHCHECK; case-insensitive", () => {
    expect(dockerHealth({ Health: { Status: "" } })).toBeUndefined();
    expect(dockerHealth({ Health: { Status: "none" } })).toBeUndefined();
    expect(dockerHealth({ Health: { Status: "Healthy" } })).toBe("healthy");
  });
  test("lastProbeOutput caps long output", () => {
    const long = "x".repeat(MIRROR_OUTPUT_MAX * 2);
    const out = lastProbeOutput(withHealth("unhealthy", [long]));
    expect(out.length).toBe(MIRROR_OUTPUT_MAX);
    expect(out.endsWith("...")).toBe(true);
    expect(lastProbeOutput(withHealth("starting", []))).toBe("");
    expect(lastProbeOutput({ Health: { Status: "starting", Log: null } })).toBe("");
  });
});
