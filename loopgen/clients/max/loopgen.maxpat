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
      1400.0,
      1540.0
    ],
    "openinpresentation": 1,
    "devicewidth": 530.0,
    "default_fontsize": 12.0,
    "description": "loopgen: MusicGen loops from a local daemon, over OSC, in time with Live",
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
          "text": "loopgen: run `loopgen serve`, type a prompt, press generate (Live's transport playing)"
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
          "numoutlets": 5,
          "patching_rect": [
            860,
            40,
            90,
            22
          ],
          "text": "t b b b b b"
        }
      },
      {
        "box": {
          "id": "port-rand",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            940,
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
            940,
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
            940,
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
            1000,
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
          "id": "hello-on",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            800,
            70,
            30,
            22
          ],
          "text": "1"
        }
      },
      {
        "box": {
          "id": "hello-metro",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            800,
            100,
            80,
            22
          ],
          "text": "metro 2000"
        }
      },
      {
        "box": {
          "id": "watchdog",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1100,
            40,
            80,
            22
          ],
          "text": "delay 5000"
        }
      },
      {
        "box": {
          "id": "down-msg",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1100,
            70,
            300,
            22
          ],
          "text": "set not reachable: start the daemon with loopgen serve (see clients.md)"
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
          "presentation": 1,
          "presentation_rect": [
            4,
            4,
            330,
            36
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
          "presentation": 1,
          "presentation_rect": [
            4,
            44,
            64,
            20
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
          "presentation": 1,
          "presentation_rect": [
            72,
            44,
            64,
            20
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
          "id": "cont-msg",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            540,
            270,
            120,
            22
          ],
          "text": "/loopgen/continue"
        }
      },
      {
        "box": {
          "id": "ext-btn",
          "maxclass": "textbutton",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            470,
            180,
            60,
            22
          ],
          "presentation": 1,
          "presentation_rect": [
            140,
            44,
            56,
            20
          ],
          "text": "extend"
        }
      },
      {
        "box": {
          "id": "ext-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            470,
            210,
            50,
            22
          ],
          "text": "t b b"
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
            240,
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
            270,
            160,
            22
          ],
          "text": "prepend /loopgen/extend"
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
          "presentation": 1,
          "presentation_rect": [
            200,
            44,
            44,
            20
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
          "id": "pre",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            700,
            210,
            60,
            22
          ],
          "text": "t b b b"
        }
      },
      {
        "box": {
          "id": "bpm-latch",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            700,
            240,
            50,
            22
          ],
          "text": "f 120."
        }
      },
      {
        "box": {
          "id": "bpm-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            700,
            270,
            50,
            22
          ],
          "text": "t f f"
        }
      },
      {
        "box": {
          "id": "bpm-set",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            700,
            300,
            160,
            22
          ],
          "text": "prepend /loopgen/set/bpm"
        }
      },
      {
        "box": {
          "id": "bars-store",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            640,
            240,
            40,
            22
          ],
          "text": "f 4."
        }
      },
      {
        "box": {
          "id": "bars-set",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            640,
            330,
            160,
            22
          ],
          "text": "prepend /loopgen/set/bars"
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
          "presentation": 1,
          "presentation_rect": [
            4,
            70,
            40,
            16
          ],
          "varname": "bars",
          "outlettype": [
            "",
            "float"
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_initial": [
                4
              ],
              "parameter_initial_enable": 1,
              "parameter_longname": "loopgen bars",
              "parameter_mmax": 64.0,
              "parameter_mmin": 1.0,
              "parameter_shortname": "bars",
              "parameter_type": 1,
              "parameter_unitstyle": 0
            }
          }
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
          "text": "bars",
          "presentation": 1,
          "presentation_rect": [
            46,
            70,
            30,
            16
          ]
        }
      },
      {
        "box": {
          "id": "dev",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            250,
            60,
            100,
            22
          ],
          "text": "live.thisdevice"
        }
      },
      {
        "box": {
          "id": "dev-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            250,
            90,
            50,
            22
          ],
          "text": "t b b"
        }
      },
      {
        "box": {
          "id": "tempo-path",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            330,
            90,
            90,
            22
          ],
          "text": "path live_set"
        }
      },
      {
        "box": {
          "id": "tempo-lpath",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            330,
            120,
            70,
            22
          ],
          "text": "live.path"
        }
      },
      {
        "box": {
          "id": "tempo-prop",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            250,
            120,
            90,
            22
          ],
          "text": "property tempo"
        }
      },
      {
        "box": {
          "id": "tempo-obs",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            250,
            150,
            90,
            22
          ],
          "text": "live.observer"
        }
      },
      {
        "box": {
          "id": "tempo-metro",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            380,
            150,
            130,
            22
          ],
          "text": "metro 500 @active 1"
        }
      },
      {
        "box": {
          "id": "transport",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 9,
          "patching_rect": [
            380,
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
          ],
          "presentation": 1,
          "presentation_rect": [
            80,
            70,
            50,
            16
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
          "text": "bpm (follows Live)",
          "presentation": 1,
          "presentation_rect": [
            132,
            70,
            110,
            16
          ]
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
          "presentation": 1,
          "presentation_rect": [
            340,
            4,
            44,
            48
          ],
          "varname": "temperature",
          "outlettype": [
            "",
            "float"
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_initial": [
                1.0
              ],
              "parameter_initial_enable": 1,
              "parameter_longname": "loopgen temperature",
              "parameter_mmax": 2.0,
              "parameter_mmin": 0.1,
              "parameter_shortname": "random",
              "parameter_type": 0,
              "parameter_unitstyle": 1
            }
          }
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
          "presentation": 1,
          "presentation_rect": [
            388,
            4,
            44,
            48
          ],
          "varname": "guidance",
          "outlettype": [
            "",
            "float"
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_initial": [
                3.0
              ],
              "parameter_initial_enable": 1,
              "parameter_longname": "loopgen guidance",
              "parameter_mmax": 10.0,
              "parameter_mmin": 1.0,
              "parameter_shortname": "prompt",
              "parameter_type": 0,
              "parameter_unitstyle": 1
            }
          }
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
          "presentation": 1,
          "presentation_rect": [
            436,
            20,
            44,
            16
          ],
          "varname": "top_k",
          "outlettype": [
            "",
            "float"
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_initial": [
                250
              ],
              "parameter_initial_enable": 1,
              "parameter_longname": "loopgen top-k",
              "parameter_mmax": 2048.0,
              "parameter_mmin": 0.0,
              "parameter_shortname": "top-k",
              "parameter_type": 1,
              "parameter_unitstyle": 0
            }
          }
        }
      },
      {
        "box": {
          "id": "topk-lbl",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            720,
            20,
            50,
            22
          ],
          "text": "top-k",
          "presentation": 1,
          "presentation_rect": [
            436,
            4,
            44,
            16
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
          "id": "send",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            20,
            360,
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
            400,
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
            430,
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
            460,
            460,
            22
          ],
          "text": "route /loopgen/done /loopgen/progress /loopgen/error /loopgen/welcome"
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
            490,
            80,
            22
          ],
          "text": "unpack s f"
        }
      },
      {
        "box": {
          "id": "secs-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            120,
            520,
            60,
            22
          ],
          "text": "t f f b"
        }
      },
      {
        "box": {
          "id": "flip",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            200,
            550,
            30,
            22
          ],
          "text": "i 1"
        }
      },
      {
        "box": {
          "id": "flip-sub",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            200,
            580,
            40,
            22
          ],
          "text": "!- 1"
        }
      },
      {
        "box": {
          "id": "x-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            200,
            610,
            60,
            22
          ],
          "text": "t i i i"
        }
      },
      {
        "box": {
          "id": "x-plus",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            260,
            640,
            40,
            22
          ],
          "text": "+ 1"
        }
      },
      {
        "box": {
          "id": "x-sel",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 4,
          "patching_rect": [
            260,
            670,
            80,
            22
          ],
          "text": "t i i i i"
        }
      },
      {
        "box": {
          "id": "x-store",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            200,
            700,
            30,
            22
          ],
          "text": "i"
        }
      },
      {
        "box": {
          "id": "ms",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            120,
            560,
            60,
            22
          ],
          "text": "* 1000."
        }
      },
      {
        "box": {
          "id": "end-gate",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            120,
            720,
            50,
            22
          ],
          "text": "gate 2"
        }
      },
      {
        "box": {
          "id": "bars-expr",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            360,
            560,
            200,
            22
          ],
          "text": "expr floor($f1*$f2/240.+0.5)"
        }
      },
      {
        "box": {
          "id": "bars-min",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            360,
            590,
            80,
            22
          ],
          "text": "maximum 1."
        }
      },
      {
        "box": {
          "id": "n-gate",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            360,
            720,
            50,
            22
          ],
          "text": "gate 2"
        }
      },
      {
        "box": {
          "id": "path-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            20,
            520,
            60,
            22
          ],
          "text": "t b b s"
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
            560,
            110,
            22
          ],
          "text": "prepend replace"
        }
      },
      {
        "box": {
          "id": "buf-gate",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            20,
            720,
            50,
            22
          ],
          "text": "gate 2"
        }
      },
      {
        "box": {
          "id": "snap",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            460,
            620,
            70,
            22
          ],
          "text": "snapshot~"
        }
      },
      {
        "box": {
          "id": "c0-expr",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            460,
            650,
            120,
            22
          ],
          "text": "expr floor($f1)+1."
        }
      },
      {
        "box": {
          "id": "c0-gate",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            460,
            720,
            50,
            22
          ],
          "text": "gate 2"
        }
      },
      {
        "box": {
          "id": "newest-a",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            200,
            740,
            40,
            22
          ],
          "text": "!- 1"
        }
      },
      {
        "box": {
          "id": "take-store",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            600,
            520,
            60,
            22
          ],
          "text": "zl reg"
        }
      },
      {
        "box": {
          "id": "take-show",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            680,
            520,
            80,
            22
          ],
          "text": "prepend set"
        }
      },
      {
        "box": {
          "id": "take-path",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            680,
            550,
            300,
            22
          ],
          "text": "no take yet",
          "presentation": 1,
          "presentation_rect": [
            340,
            84,
            184,
            34
          ]
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
            490,
            140,
            22
          ],
          "presentation": 1,
          "presentation_rect": [
            4,
            92,
            330,
            10
          ],
          "size": 1.0,
          "floatoutput": 1
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
            610,
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
            640,
            300,
            22
          ],
          "text": "",
          "presentation": 1,
          "presentation_rect": [
            4,
            140,
            330,
            18
          ]
        }
      },
      {
        "box": {
          "id": "wel-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            800,
            490,
            50,
            22
          ],
          "text": "t a b"
        }
      },
      {
        "box": {
          "id": "wel-unpack",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 4,
          "patching_rect": [
            800,
            520,
            110,
            22
          ],
          "text": "unpack s i i f"
        }
      },
      {
        "box": {
          "id": "ready",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            800,
            560,
            130,
            22
          ],
          "text": "prepend set ready:"
        }
      },
      {
        "box": {
          "id": "status",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            800,
            600,
            320,
            22
          ],
          "text": "looking for loopgen serve on 127.0.0.1:9000 ...",
          "presentation": 1,
          "presentation_rect": [
            4,
            120,
            330,
            18
          ]
        }
      },
      {
        "box": {
          "id": "speed-set",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            940,
            560,
            300,
            22
          ],
          "text": "prepend set speed (1 = real time, -1 = ?):"
        }
      },
      {
        "box": {
          "id": "speed",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            800,
            640,
            320,
            22
          ],
          "text": "",
          "presentation": 1,
          "presentation_rect": [
            340,
            122,
            184,
            18
          ]
        }
      },
      {
        "box": {
          "id": "mono",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            900,
            560,
            40,
            22
          ],
          "text": "== 1"
        }
      },
      {
        "box": {
          "id": "phasor",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            20,
            800,
            170,
            22
          ],
          "text": "phasor~ 1024.0.0 @lock 1"
        }
      },
      {
        "box": {
          "id": "song",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            20,
            830,
            70,
            22
          ],
          "text": "*~ 1024."
        }
      },
      {
        "box": {
          "id": "moving",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            200,
            830,
            50,
            22
          ],
          "text": "delta~"
        }
      },
      {
        "box": {
          "id": "moving-ne",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            200,
            860,
            50,
            22
          ],
          "text": "!=~ 0."
        }
      },
      {
        "box": {
          "id": "moving-sl",
          "maxclass": "newobj",
          "numinlets": 3,
          "numoutlets": 1,
          "patching_rect": [
            200,
            890,
            80,
            22
          ],
          "text": "slide~ 64 64"
        }
      },
      {
        "box": {
          "id": "buffer-a",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            300,
            770,
            150,
            22
          ],
          "text": "buffer~ ---loopgen-a"
        }
      },
      {
        "box": {
          "id": "sub-a",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            830,
            90,
            22
          ],
          "text": "-~ 100000.0"
        }
      },
      {
        "box": {
          "id": "mod-a",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            860,
            50,
            22
          ],
          "text": "%~ 4."
        }
      },
      {
        "box": {
          "id": "div-a",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            890,
            50,
            22
          ],
          "text": "/~ 4."
        }
      },
      {
        "box": {
          "id": "wave-a",
          "maxclass": "newobj",
          "numinlets": 3,
          "numoutlets": 2,
          "patching_rect": [
            300,
            920,
            200,
            22
          ],
          "text": "wave~ ---loopgen-a 0 1000 2"
        }
      },
      {
        "box": {
          "id": "ge-a",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            400,
            860,
            50,
            22
          ],
          "text": ">=~ 0."
        }
      },
      {
        "box": {
          "id": "ge-a-sl",
          "maxclass": "newobj",
          "numinlets": 3,
          "numoutlets": 1,
          "patching_rect": [
            400,
            890,
            80,
            22
          ],
          "text": "slide~ 64 64"
        }
      },
      {
        "box": {
          "id": "buffer-b",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            600,
            770,
            150,
            22
          ],
          "text": "buffer~ ---loopgen-b"
        }
      },
      {
        "box": {
          "id": "sub-b",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            600,
            830,
            90,
            22
          ],
          "text": "-~ 100000.0"
        }
      },
      {
        "box": {
          "id": "mod-b",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            600,
            860,
            50,
            22
          ],
          "text": "%~ 4."
        }
      },
      {
        "box": {
          "id": "div-b",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            600,
            890,
            50,
            22
          ],
          "text": "/~ 4."
        }
      },
      {
        "box": {
          "id": "wave-b",
          "maxclass": "newobj",
          "numinlets": 3,
          "numoutlets": 2,
          "patching_rect": [
            600,
            920,
            200,
            22
          ],
          "text": "wave~ ---loopgen-b 0 1000 2"
        }
      },
      {
        "box": {
          "id": "ge-b",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            700,
            860,
            50,
            22
          ],
          "text": ">=~ 0."
        }
      },
      {
        "box": {
          "id": "ge-b-sl",
          "maxclass": "newobj",
          "numinlets": 3,
          "numoutlets": 1,
          "patching_rect": [
            700,
            890,
            80,
            22
          ],
          "text": "slide~ 64 64"
        }
      },
      {
        "box": {
          "id": "newest-mul",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            960,
            50,
            22
          ],
          "text": "*~ 1."
        }
      },
      {
        "box": {
          "id": "newest-inv",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            990,
            50,
            22
          ],
          "text": "!-~ 1."
        }
      },
      {
        "box": {
          "id": "pick-b",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1020,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "pick-sl",
          "maxclass": "newobj",
          "numinlets": 3,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1050,
            80,
            22
          ],
          "text": "slide~ 64 64"
        }
      },
      {
        "box": {
          "id": "on-a-l",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1090,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "on-b-l",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            450,
            1090,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "diff-l",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1120,
            40,
            22
          ],
          "text": "-~"
        }
      },
      {
        "box": {
          "id": "mul-l",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1150,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "mix-l",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1180,
            40,
            22
          ],
          "text": "+~"
        }
      },
      {
        "box": {
          "id": "run-l",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1210,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "on-a-r",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1240,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "on-b-r",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            450,
            1240,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "diff-r",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1270,
            40,
            22
          ],
          "text": "-~"
        }
      },
      {
        "box": {
          "id": "mul-r",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1300,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "mix-r",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1330,
            40,
            22
          ],
          "text": "+~"
        }
      },
      {
        "box": {
          "id": "run-r",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            300,
            1360,
            40,
            22
          ],
          "text": "*~"
        }
      },
      {
        "box": {
          "id": "mono-mul",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            450,
            1300,
            50,
            22
          ],
          "text": "*~ 0."
        }
      },
      {
        "box": {
          "id": "mono-add",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            450,
            1330,
            40,
            22
          ],
          "text": "+~"
        }
      },
      {
        "box": {
          "id": "gain",
          "maxclass": "live.gain~",
          "numinlets": 2,
          "numoutlets": 5,
          "patching_rect": [
            300,
            1400,
            50,
            22
          ],
          "presentation": 1,
          "presentation_rect": [
            488,
            4,
            36,
            62
          ],
          "varname": "level",
          "outlettype": [
            "signal",
            "signal",
            "",
            "float",
            "list"
          ],
          "parameter_enable": 1,
          "saved_attribute_attributes": {
            "valueof": {
              "parameter_initial": [
                0.0
              ],
              "parameter_initial_enable": 1,
              "parameter_longname": "loopgen level",
              "parameter_mmax": 6.0,
              "parameter_mmin": -70.0,
              "parameter_shortname": "level",
              "parameter_type": 0,
              "parameter_unitstyle": 4
            }
          }
        }
      },
      {
        "box": {
          "id": "plugin",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 2,
          "patching_rect": [
            520,
            1400,
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
            300,
            1480,
            60,
            22
          ],
          "text": "plugout~"
        }
      },
      {
        "box": {
          "id": "clip-btn",
          "maxclass": "textbutton",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            1000,
            300,
            70,
            22
          ],
          "presentation": 1,
          "presentation_rect": [
            248,
            44,
            86,
            20
          ],
          "text": "take to clip"
        }
      },
      {
        "box": {
          "id": "clip-trig",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 2,
          "patching_rect": [
            1000,
            330,
            50,
            22
          ],
          "text": "t b b"
        }
      },
      {
        "box": {
          "id": "clip-path",
          "maxclass": "message",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1060,
            360,
            260,
            22
          ],
          "text": "path live_set view highlighted_clip_slot"
        }
      },
      {
        "box": {
          "id": "clip-lpath",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 3,
          "patching_rect": [
            1060,
            390,
            70,
            22
          ],
          "text": "live.path"
        }
      },
      {
        "box": {
          "id": "clip-call",
          "maxclass": "newobj",
          "numinlets": 1,
          "numoutlets": 1,
          "patching_rect": [
            1000,
            420,
            200,
            22
          ],
          "text": "prepend call create_audio_clip"
        }
      },
      {
        "box": {
          "id": "clip-obj",
          "maxclass": "newobj",
          "numinlets": 2,
          "numoutlets": 1,
          "patching_rect": [
            1000,
            450,
            80,
            22
          ],
          "text": "live.object"
        }
      },
      {
        "box": {
          "id": "temp-lbl",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            600,
            20,
            50,
            22
          ],
          "text": "random",
          "presentation": 1,
          "presentation_rect": [
            340,
            54,
            44,
            16
          ]
        }
      },
      {
        "box": {
          "id": "cfg-lbl",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            660,
            20,
            50,
            22
          ],
          "text": "prompt",
          "presentation": 1,
          "presentation_rect": [
            388,
            54,
            44,
            16
          ]
        }
      },
      {
        "box": {
          "id": "take-lbl",
          "maxclass": "comment",
          "numinlets": 1,
          "numoutlets": 0,
          "patching_rect": [
            680,
            580,
            300,
            22
          ],
          "text": "take (in the loops folder: drag it from Live's browser)",
          "presentation": 1,
          "presentation_rect": [
            340,
            70,
            184,
            14
          ]
        }
      }
    ],
    "lines": [
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
            4
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
            "load-trig",
            3
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
            "load-trig",
            2
          ],
          "destination": [
            "watchdog",
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
            "hello-on",
            0
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
            "prompt",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "hello-on",
            0
          ],
          "destination": [
            "hello-metro",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "hello-metro",
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
            "watchdog",
            0
          ],
          "destination": [
            "down-msg",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "down-msg",
            0
          ],
          "destination": [
            "status",
            0
          ]
        }
      },
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
            "pre",
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
            "pre",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ext-btn",
            0
          ],
          "destination": [
            "ext-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ext-trig",
            1
          ],
          "destination": [
            "pre",
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
            "ext-trig",
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
            "pre",
            2
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
            "pre",
            1
          ],
          "destination": [
            "bpm-latch",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "pre",
            0
          ],
          "destination": [
            "bars-store",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bpm-latch",
            0
          ],
          "destination": [
            "bpm-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bpm-trig",
            1
          ],
          "destination": [
            "bars-expr",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bpm-trig",
            0
          ],
          "destination": [
            "bpm-set",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bpm-set",
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
            "bars-store",
            0
          ],
          "destination": [
            "bars-set",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bars-set",
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
            "bars",
            0
          ],
          "destination": [
            "bars-store",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "dev",
            0
          ],
          "destination": [
            "dev-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "dev-trig",
            1
          ],
          "destination": [
            "tempo-path",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "tempo-path",
            0
          ],
          "destination": [
            "tempo-lpath",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "tempo-lpath",
            0
          ],
          "destination": [
            "tempo-obs",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "dev-trig",
            0
          ],
          "destination": [
            "tempo-prop",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "tempo-prop",
            0
          ],
          "destination": [
            "tempo-obs",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "tempo-obs",
            0
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
            "bpm",
            0
          ],
          "destination": [
            "bpm-latch",
            1
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
            1
          ],
          "destination": [
            "secs-trig",
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
            "path-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "secs-trig",
            2
          ],
          "destination": [
            "flip",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "flip",
            0
          ],
          "destination": [
            "flip-sub",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "flip-sub",
            0
          ],
          "destination": [
            "x-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-trig",
            2
          ],
          "destination": [
            "flip",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-trig",
            1
          ],
          "destination": [
            "x-plus",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-trig",
            0
          ],
          "destination": [
            "x-store",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-plus",
            0
          ],
          "destination": [
            "x-sel",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-sel",
            0
          ],
          "destination": [
            "c0-gate",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-sel",
            1
          ],
          "destination": [
            "buf-gate",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-sel",
            2
          ],
          "destination": [
            "n-gate",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-sel",
            3
          ],
          "destination": [
            "end-gate",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "secs-trig",
            1
          ],
          "destination": [
            "ms",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ms",
            0
          ],
          "destination": [
            "end-gate",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "secs-trig",
            0
          ],
          "destination": [
            "bars-expr",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bars-expr",
            0
          ],
          "destination": [
            "bars-min",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "bars-min",
            0
          ],
          "destination": [
            "n-gate",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "path-trig",
            2
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
            "buf-gate",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "path-trig",
            2
          ],
          "destination": [
            "take-store",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "path-trig",
            2
          ],
          "destination": [
            "take-show",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "take-show",
            0
          ],
          "destination": [
            "take-path",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "path-trig",
            1
          ],
          "destination": [
            "snap",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "snap",
            0
          ],
          "destination": [
            "c0-expr",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "c0-expr",
            0
          ],
          "destination": [
            "c0-gate",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "path-trig",
            0
          ],
          "destination": [
            "x-store",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "x-store",
            0
          ],
          "destination": [
            "newest-a",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "newest-a",
            0
          ],
          "destination": [
            "newest-mul",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "end-gate",
            0
          ],
          "destination": [
            "wave-a",
            2
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "n-gate",
            0
          ],
          "destination": [
            "mod-a",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "n-gate",
            0
          ],
          "destination": [
            "div-a",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "buf-gate",
            0
          ],
          "destination": [
            "buffer-a",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "c0-gate",
            0
          ],
          "destination": [
            "sub-a",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "end-gate",
            1
          ],
          "destination": [
            "wave-b",
            2
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "n-gate",
            1
          ],
          "destination": [
            "mod-b",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "n-gate",
            1
          ],
          "destination": [
            "div-b",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "buf-gate",
            1
          ],
          "destination": [
            "buffer-b",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "c0-gate",
            1
          ],
          "destination": [
            "sub-b",
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
      },
      {
        "patchline": {
          "source": [
            "route",
            3
          ],
          "destination": [
            "wel-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wel-trig",
            1
          ],
          "destination": [
            "watchdog",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wel-trig",
            0
          ],
          "destination": [
            "wel-unpack",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wel-unpack",
            0
          ],
          "destination": [
            "ready",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ready",
            0
          ],
          "destination": [
            "status",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wel-unpack",
            2
          ],
          "destination": [
            "mono",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wel-unpack",
            3
          ],
          "destination": [
            "speed-set",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "speed-set",
            0
          ],
          "destination": [
            "speed",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mono",
            0
          ],
          "destination": [
            "mono-mul",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "phasor",
            0
          ],
          "destination": [
            "song",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "song",
            0
          ],
          "destination": [
            "snap",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "song",
            0
          ],
          "destination": [
            "moving",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "moving",
            0
          ],
          "destination": [
            "moving-ne",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "moving-ne",
            0
          ],
          "destination": [
            "moving-sl",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "song",
            0
          ],
          "destination": [
            "sub-a",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ge-a",
            0
          ],
          "destination": [
            "ge-a-sl",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "sub-a",
            0
          ],
          "destination": [
            "mod-a",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mod-a",
            0
          ],
          "destination": [
            "div-a",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "div-a",
            0
          ],
          "destination": [
            "wave-a",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "sub-a",
            0
          ],
          "destination": [
            "ge-a",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "song",
            0
          ],
          "destination": [
            "sub-b",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ge-b",
            0
          ],
          "destination": [
            "ge-b-sl",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "sub-b",
            0
          ],
          "destination": [
            "mod-b",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mod-b",
            0
          ],
          "destination": [
            "div-b",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "div-b",
            0
          ],
          "destination": [
            "wave-b",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "sub-b",
            0
          ],
          "destination": [
            "ge-b",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ge-a",
            0
          ],
          "destination": [
            "newest-mul",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "newest-mul",
            0
          ],
          "destination": [
            "newest-inv",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "newest-inv",
            0
          ],
          "destination": [
            "pick-b",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ge-b",
            0
          ],
          "destination": [
            "pick-b",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "pick-b",
            0
          ],
          "destination": [
            "pick-sl",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wave-a",
            0
          ],
          "destination": [
            "on-a-l",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ge-a-sl",
            0
          ],
          "destination": [
            "on-a-l",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wave-b",
            0
          ],
          "destination": [
            "on-b-l",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ge-b-sl",
            0
          ],
          "destination": [
            "on-b-l",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "on-b-l",
            0
          ],
          "destination": [
            "diff-l",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "on-a-l",
            0
          ],
          "destination": [
            "diff-l",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "diff-l",
            0
          ],
          "destination": [
            "mul-l",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "pick-sl",
            0
          ],
          "destination": [
            "mul-l",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mul-l",
            0
          ],
          "destination": [
            "mix-l",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "on-a-l",
            0
          ],
          "destination": [
            "mix-l",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "moving-sl",
            0
          ],
          "destination": [
            "run-l",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wave-a",
            1
          ],
          "destination": [
            "on-a-r",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ge-a-sl",
            0
          ],
          "destination": [
            "on-a-r",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "wave-b",
            1
          ],
          "destination": [
            "on-b-r",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "ge-b-sl",
            0
          ],
          "destination": [
            "on-b-r",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "on-b-r",
            0
          ],
          "destination": [
            "diff-r",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "on-a-r",
            0
          ],
          "destination": [
            "diff-r",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "diff-r",
            0
          ],
          "destination": [
            "mul-r",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "pick-sl",
            0
          ],
          "destination": [
            "mul-r",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mul-r",
            0
          ],
          "destination": [
            "mix-r",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "on-a-r",
            0
          ],
          "destination": [
            "mix-r",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "moving-sl",
            0
          ],
          "destination": [
            "run-r",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mix-l",
            0
          ],
          "destination": [
            "run-l",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mix-l",
            0
          ],
          "destination": [
            "mono-mul",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mix-r",
            0
          ],
          "destination": [
            "mono-add",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mono-mul",
            0
          ],
          "destination": [
            "mono-add",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "mono-add",
            0
          ],
          "destination": [
            "run-r",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "run-l",
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
            "run-r",
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
            "clip-btn",
            0
          ],
          "destination": [
            "clip-trig",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "clip-trig",
            1
          ],
          "destination": [
            "clip-path",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "clip-path",
            0
          ],
          "destination": [
            "clip-lpath",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "clip-lpath",
            0
          ],
          "destination": [
            "clip-obj",
            1
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "clip-trig",
            0
          ],
          "destination": [
            "take-store",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "take-store",
            0
          ],
          "destination": [
            "clip-call",
            0
          ]
        }
      },
      {
        "patchline": {
          "source": [
            "clip-call",
            0
          ],
          "destination": [
            "clip-obj",
            0
          ]
        }
      }
    ],
    "parameters": {
      "bars": [
        "loopgen bars",
        "bars",
        0
      ],
      "temp": [
        "loopgen temperature",
        "random",
        0
      ],
      "cfg": [
        "loopgen guidance",
        "prompt",
        0
      ],
      "topk": [
        "loopgen top-k",
        "top-k",
        0
      ],
      "gain": [
        "loopgen level",
        "level",
        0
      ]
    }
  }
}
