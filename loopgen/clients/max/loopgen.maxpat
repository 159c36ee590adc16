{
  "patcher": {
    "fileversion": 1,
    "appversion": {
      "major": 8,
      "minor": 6,
      "revision": 0,
      "architecture": "x64",
      "modernui": 1
    },
    "classnamespace": "box",
    "rect": [
      40.0,
      80.0,
      960.0,
      860.0
    ],
    "openinpresentation": 0,
    "default_fontsize": 12.0,
    "description": "loopgen: MusicGen loops from a local daemon, over OSC",
    "boxes": [
      {
        "box": {
          "id": "title",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            10,
            600,
            22
          ],
          "text": "loopgen: run `loopgen serve`, type a prompt, press generate"
        }
      },
      {
        "box": {
          "id": "prompt",
          "maxclass": "textedit",
          "numinlets": 1,
          "numoutlets": 4,
          "patching_rect": [
            20,
            40,
            360,
            22
          ],
          "text": "deep house groove, warm bass"
        }
      },
      {
        "box": {
          "id": "prompt-route",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            20,
            80,
            70,
            22
          ],
          "text": "route text"
        }
      },
      {
        "box": {
          "id": "prompt-sym",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            20,
            110,
            70,
            22
          ],
          "text": "tosymbol"
        }
      },
      {
        "box": {
          "id": "prompt-reg",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            20,
            140,
            60,
            22
          ],
          "text": "zl reg"
        }
      },
      {
        "box": {
          "id": "prompt-set",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            400,
            140,
            160,
            22
          ],
          "text": "prepend /loopgen/prompt"
        }
      },
      {
        "box": {
          "id": "gen-btn",
          "maxclass": "textbutton",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            20,
            180,
            80,
            22
          ],
          "text": "generate"
        }
      },
      {
        "box": {
          "id": "gen-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            20,
            210,
            50,
            22
          ],
          "text": "t b b"
        }
      },
      {
        "box": {
          "id": "load",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            860,
            10,
            60,
            22
          ],
          "text": "loadbang"
        }
      },
      {
        "box": {
          "id": "load-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            860,
            40,
            50,
            22
          ],
          "text": "t b b"
        }
      },
      {
        "box": {
          "id": "port-rand",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            70,
            90,
            22
          ],
          "text": "random 20000"
        }
      },
      {
        "box": {
          "id": "port-add",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            100,
            60,
            22
          ],
          "text": "+ 40000"
        }
      },
      {
        "box": {
          "id": "port-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            900,
            130,
            50,
            22
          ],
          "text": "t i i"
        }
      },
      {
        "box": {
          "id": "port-store",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            860,
            160,
            30,
            22
          ],
          "text": "i"
        }
      },
      {
        "box": {
          "id": "port-msg",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            960,
            160,
            60,
            22
          ],
          "text": "port $1"
        }
      },
      {
        "box": {
          "id": "hello",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            860,
            190,
            220,
            22
          ],
          "text": "prepend /loopgen/hello ---loopgen"
        }
      },
      {
        "box": {
          "id": "gen-pack",
          "maxclass": "newobj",
          "numinlets": 3,
          "numoutlets": 1,
          "patching_rect": [
            20,
            270,
            100,
            22
          ],
          "text": "pack s 4. 120."
        }
      },
      {
        "box": {
          "id": "gen-msg",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            20,
            300,
            170,
            22
          ],
          "text": "prepend /loopgen/generate"
        }
      },
      {
        "box": {
          "id": "bars",
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            140,
            180,
            50,
            22
          ],
          "varname": "bars",
          "parameter_initial": [
            4
          ]
        }
      },
      {
        "box": {
          "id": "bars-lbl",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            195,
            180,
            40,
            22
          ],
          "text": "bars"
        }
      },
      {
        "box": {
          "id": "tempo-metro",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            250,
            150,
            130,
            22
          ],
          "text": "metro 250 @active 1"
        }
      },
      {
        "box": {
          "id": "transport",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 9,
          "patching_rect": [
            250,
            180,
            80,
            22
          ],
          "text": "transport"
        }
      },
      {
        "box": {
          "id": "bpm",
          "maxclass": "flonum",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            250,
            240,
            60,
            22
          ]
        }
      },
      {
        "box": {
          "id": "bpm-lbl",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            315,
            240,
            200,
            22
          ],
          "text": "bpm (Live's tempo inside Live)"
        }
      },
      {
        "box": {
          "id": "temp",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            600,
            40,
            50,
            22
          ],
          "varname": "temperature",
          "parameter_range": [
            0.1,
            2.0
          ],
          "parameter_initial": [
            1.0
          ]
        }
      },
      {
        "box": {
          "id": "temp-msg",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            600,
            110,
            210,
            22
          ],
          "text": "prepend /loopgen/set/temperature"
        }
      },
      {
        "box": {
          "id": "cfg",
          "maxclass": "live.dial",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            660,
            40,
            50,
            22
          ],
          "varname": "cfg",
          "parameter_range": [
            1.0,
            10.0
          ],
          "parameter_initial": [
            3.0
          ]
        }
      },
      {
        "box": {
          "id": "cfg-msg",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            660,
            140,
            200,
            22
          ],
          "text": "prepend /loopgen/set/cfg_coef"
        }
      },
      {
        "box": {
          "id": "topk",
          "maxclass": "live.numbox",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            720,
            40,
            50,
            22
          ],
          "varname": "top_k",
          "parameter_range": [
            0,
            2048
          ],
          "parameter_initial": [
            250
          ]
        }
      },
      {
        "box": {
          "id": "topk-msg",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            720,
            170,
            180,
            22
          ],
          "text": "prepend /loopgen/set/top_k"
        }
      },
      {
        "box": {
          "id": "stop-btn",
          "maxclass": "textbutton",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            400,
            180,
            60,
            22
          ],
          "text": "stop"
        }
      },
      {
        "box": {
          "id": "stop-msg",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            400,
            210,
            90,
            22
          ],
          "text": "/loopgen/stop"
        }
      },
      {
        "box": {
          "id": "extend-btn",
          "maxclass": "textbutton",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            470,
            180,
            60,
            22
          ],
          "text": "extend"
        }
      },
      {
        "box": {
          "id": "extend-bars",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            470,
            210,
            30,
            22
          ],
          "text": "f"
        }
      },
      {
        "box": {
          "id": "extend-msg",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            470,
            240,
            160,
            22
          ],
          "text": "prepend /loopgen/extend"
        }
      },
      {
        "box": {
          "id": "cont-btn",
          "maxclass": "textbutton",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            540,
            180,
            70,
            22
          ],
          "text": "continue"
        }
      },
      {
        "box": {
          "id": "cont-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            540,
            210,
            50,
            22
          ],
          "text": "t b b"
        }
      },
      {
        "box": {
          "id": "cont-write",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            600,
            240,
            200,
            22
          ],
          "text": "write /tmp/loopgen-continue.wav"
        }
      },
      {
        "box": {
          "id": "cont-msg",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            540,
            270,
            240,
            22
          ],
          "text": "/loopgen/continue /tmp/loopgen-continue.wav"
        }
      },
      {
        "box": {
          "id": "send",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            340,
            160,
            22
          ],
          "text": "udpsend 127.0.0.1 9000"
        }
      },
      {
        "box": {
          "id": "recv",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            20,
            390,
            120,
            22
          ],
          "text": "udpreceive 9001"
        }
      },
      {
        "box": {
          "id": "defer",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            20,
            420,
            70,
            22
          ],
          "text": "deferlow"
        }
      },
      {
        "box": {
          "id": "route",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 5,
          "patching_rect": [
            20,
            450,
            430,
            22
          ],
          "text": "route /loopgen/done /loopgen/progress /loopgen/error /loopgen/pong"
        }
      },
      {
        "box": {
          "id": "done-unpack",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            20,
            480,
            80,
            22
          ],
          "text": "unpack s f"
        }
      },
      {
        "box": {
          "id": "replace",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            20,
            510,
            110,
            22
          ],
          "text": "prepend replace"
        }
      },
      {
        "box": {
          "id": "buffer",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            20,
            540,
            150,
            22
          ],
          "text": "buffer~ ---loopgen-loop"
        }
      },
      {
        "box": {
          "id": "pending",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            200,
            570,
            40,
            22
          ],
          "text": "gate"
        }
      },
      {
        "box": {
          "id": "pending-on",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            200,
            510,
            30,
            22
          ],
          "text": "1"
        }
      },
      {
        "box": {
          "id": "pending-off",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            250,
            630,
            30,
            22
          ],
          "text": "0"
        }
      },
      {
        "box": {
          "id": "bar-metro",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            260,
            540,
            210,
            22
          ],
          "text": "metro 1n @quantize 1n @active 1"
        }
      },
      {
        "box": {
          "id": "start-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            200,
            600,
            50,
            22
          ],
          "text": "t b b"
        }
      },
      {
        "box": {
          "id": "startloop",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            200,
            660,
            70,
            22
          ],
          "text": "startloop"
        }
      },
      {
        "box": {
          "id": "groove",
          "maxclass": "newobj",
          "numinlets": 3,
          "numoutlets": 3,
          "patching_rect": [
            200,
            690,
            200,
            22
          ],
          "text": "groove~ ---loopgen-loop 2 @loop 1"
        }
      },
      {
        "box": {
          "id": "gain",
          "maxclass": "live.gain~",
          "numinlets": 2,
          "numoutlets": 5,
          "patching_rect": [
            200,
            720,
            50,
            22
          ],
          "varname": "level"
        }
      },
      {
        "box": {
          "id": "plugin",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            420,
            690,
            60,
            22
          ],
          "text": "plugin~"
        }
      },
      {
        "box": {
          "id": "plugout",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 0,
          "patching_rect": [
            200,
            800,
            60,
            22
          ],
          "text": "plugout~"
        }
      },
      {
        "box": {
          "id": "progress",
          "maxclass": "slider",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            480,
            480,
            140,
            22
          ],
          "size": 1.0,
          "floatoutput": 1
        }
      },
      {
        "box": {
          "id": "progress-lbl",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            625,
            480,
            60,
            22
          ],
          "text": "progress"
        }
      },
      {
        "box": {
          "id": "error-set",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            620,
            510,
            80,
            22
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "error-show",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            620,
            540,
            300,
            22
          ],
          "text": ""
        }
      }
    ],
    "lines": [
      {
        "patchline": {
          "source": [
            "prompt",
            0
          ],
          "destination": [
            "prompt-route",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "prompt-route",
            0
          ],
          "destination": [
            "prompt-sym",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "prompt-sym",
            0
          ],
          "destination": [
            "prompt-reg",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "prompt-sym",
            0
          ],
          "destination": [
            "prompt-set",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "prompt-set",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "gen-btn",
            0
          ],
          "destination": [
            "gen-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "gen-trig",
            1
          ],
          "destination": [
            "port-store",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "gen-trig",
            0
          ],
          "destination": [
            "prompt-reg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "load",
            0
          ],
          "destination": [
            "load-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "load-trig",
            1
          ],
          "destination": [
            "port-rand",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "port-rand",
            0
          ],
          "destination": [
            "port-add",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "port-add",
            0
          ],
          "destination": [
            "port-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "port-trig",
            1
          ],
          "destination": [
            "port-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "port-msg",
            0
          ],
          "destination": [
            "recv",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "port-trig",
            0
          ],
          "destination": [
            "port-store",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "load-trig",
            0
          ],
          "destination": [
            "port-store",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "port-store",
            0
          ],
          "destination": [
            "hello",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "hello",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "prompt-reg",
            0
          ],
          "destination": [
            "gen-pack",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bars",
            0
          ],
          "destination": [
            "gen-pack",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bars",
            0
          ],
          "destination": [
            "extend-bars",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "tempo-metro",
            0
          ],
          "destination": [
            "transport",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "transport",
            4
          ],
          "destination": [
            "bpm",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bpm",
            0
          ],
          "destination": [
            "gen-pack",
            2
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "gen-pack",
            0
          ],
          "destination": [
            "gen-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "gen-msg",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "temp",
            0
          ],
          "destination": [
            "temp-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "temp-msg",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "cfg",
            0
          ],
          "destination": [
            "cfg-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "cfg-msg",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "topk",
            0
          ],
          "destination": [
            "topk-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "topk-msg",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "stop-btn",
            0
          ],
          "destination": [
            "stop-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "stop-msg",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "extend-btn",
            0
          ],
          "destination": [
            "extend-bars",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "extend-bars",
            0
          ],
          "destination": [
            "extend-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "extend-msg",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "cont-btn",
            0
          ],
          "destination": [
            "cont-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "cont-trig",
            1
          ],
          "destination": [
            "cont-write",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "cont-write",
            0
          ],
          "destination": [
            "buffer",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "cont-trig",
            0
          ],
          "destination": [
            "cont-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "cont-msg",
            0
          ],
          "destination": [
            "send",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "recv",
            0
          ],
          "destination": [
            "defer",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "defer",
            0
          ],
          "destination": [
            "route",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "route",
            0
          ],
          "destination": [
            "done-unpack",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "done-unpack",
            0
          ],
          "destination": [
            "replace",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "replace",
            0
          ],
          "destination": [
            "buffer",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "route",
            0
          ],
          "destination": [
            "pending-on",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "pending-on",
            0
          ],
          "destination": [
            "pending",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bar-metro",
            0
          ],
          "destination": [
            "pending",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "pending",
            0
          ],
          "destination": [
            "start-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "start-trig",
            1
          ],
          "destination": [
            "startloop",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "start-trig",
            0
          ],
          "destination": [
            "pending-off",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "pending-off",
            0
          ],
          "destination": [
            "pending",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "startloop",
            0
          ],
          "destination": [
            "groove",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "groove",
            0
          ],
          "destination": [
            "gain",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "groove",
            0
          ],
          "destination": [
            "gain",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "gain",
            0
          ],
          "destination": [
            "plugout",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "gain",
            1
          ],
          "destination": [
            "plugout",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "plugin",
            0
          ],
          "destination": [
            "plugout",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "plugin",
            1
          ],
          "destination": [
            "plugout",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "route",
            1
          ],
          "destination": [
            "progress",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "route",
            2
          ],
          "destination": [
            "error-set",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "error-set",
            0
          ],
          "destination": [
            "error-show",
            0
          ]
        }
      }
    ]
  }
}
