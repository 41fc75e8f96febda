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
   100.0,
   100.0,
   1400.0,
   950.0
  ],
  "openrect": [
   0.0,
   0.0,
   696.0,
   169.0
  ],
  "openinpresentation": 1,
  "devicewidth": 696.0,
  "default_fontsize": 11.0,
  "default_fontname": "Arial",
  "gridsize": [
   15.0,
   15.0
  ],
  "description": "MusicGen Bridge: generate audio with a local MusicGen engine over OSC.",
  "boxes": [
   {
    "box": {
     "id": "obj-plugin",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      700.0,
      60.0,
      22.0
     ],
     "outlettype": [
      "signal",
      "signal"
     ],
     "text": "plugin~"
    }
   },
   {
    "box": {
     "id": "obj-plugout",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      880.0,
      60.0,
      22.0
     ],
     "text": "plugout~"
    }
   },
   {
    "box": {
     "id": "obj-thisdevice",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      20.0,
      90.0,
      22.0
     ],
     "outlettype": [
      "bang",
      "int",
      "int"
     ],
     "text": "live.thisdevice"
    }
   },
   {
    "box": {
     "id": "obj-initdefer",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      50.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "deferlow"
    }
   },
   {
    "box": {
     "id": "obj-initmsg",
     "maxclass": "message",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      80.0,
      40.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "init"
    }
   },
   {
    "box": {
     "id": "obj-js",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 4,
     "patching_rect": [
      300.0,
      300.0,
      200.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      "",
      ""
     ],
     "text": "js musicgen_bridge.js",
     "saved_object_attributes": {
      "filename": "musicgen_bridge.js",
      "parameter_enable": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-udpsend",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      300.0,
      400.0,
      150.0,
      22.0
     ],
     "text": "udpsend 127.0.0.1 9000"
    }
   },
   {
    "box": {
     "id": "obj-udpreceive",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      560.0,
      200.0,
      110.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "udpreceive 47000"
    }
   },
   {
    "box": {
     "id": "obj-replydefer",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      560.0,
      240.0,
      60.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "deferlow"
    }
   },
   {
    "box": {
     "id": "obj-mkdir",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      560.0,
      400.0,
      300.0,
      22.0
     ],
     "outlettype": [
      "",
      ""
     ],
     "text": "node.script musicgen_mkdir.js @autostart 1 @watch 0",
     "saved_object_attributes": {
      "autostart": 1,
      "defer": 0,
      "watch": 0
     }
    }
   },
   {
    "box": {
     "id": "obj-route",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 7,
     "patching_rect": [
      300.0,
      460.0,
      300.0,
      22.0
     ],
     "outlettype": [
      "",
      "",
      "",
      "",
      "",
      "",
      ""
     ],
     "text": "route status progress reachable models seed port"
    }
   },
   {
    "box": {
     "id": "obj-statusset",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      300.0,
      500.0,
      75.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend set"
    }
   },
   {
    "box": {
     "id": "obj-status",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      300.0,
      540.0,
      400.0,
      20.0
     ],
     "text": "Starting...",
     "presentation": 1,
     "presentation_rect": [
      8.0,
      142.0,
      680.0,
      20.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-progressset",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      390.0,
      500.0,
      75.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend set"
    }
   },
   {
    "box": {
     "id": "obj-progress",
     "maxclass": "slider",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      390.0,
      580.0,
      200.0,
      16.0
     ],
     "outlettype": [
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      8.0,
      124.0,
      680.0,
      12.0
     ],
     "floatoutput": 1,
     "size": 1.0,
     "orientation": 1,
     "ignoreclick": 1
    }
   },
   {
    "box": {
     "id": "obj-led",
     "maxclass": "led",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      480.0,
      620.0,
      20.0,
      20.0
     ],
     "outlettype": [
      "int"
     ],
     "presentation": 1,
     "presentation_rect": [
      458.0,
      8.0,
      18.0,
      18.0
     ],
     "ignoreclick": 1
    }
   },
   {
    "box": {
     "id": "obj-seedset",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      560.0,
      500.0,
      75.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend set"
    }
   },
   {
    "box": {
     "id": "obj-portmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      650.0,
      500.0,
      80.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend port"
    }
   },
   {
    "box": {
     "id": "obj-prompt",
     "maxclass": "textedit",
     "numinlets": 1,
     "numoutlets": 4,
     "patching_rect": [
      20.0,
      150.0,
      250.0,
      50.0
     ],
     "outlettype": [
      "",
      "int",
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      8.0,
      8.0,
      300.0,
      50.0
     ],
     "keymode": 1,
     "lines": 3,
     "outputmode": 1
    }
   },
   {
    "box": {
     "id": "obj-bars",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      220.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      318.0,
      24.0,
      44.0,
      15.0
     ],
     "varname": "Bars",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Bars",
       "parameter_shortname": "Bars",
       "parameter_type": 1,
       "parameter_mmin": 1,
       "parameter_mmax": 64,
       "parameter_initial": [
        4
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-barsmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      250.0,
      80.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend bars"
    }
   },
   {
    "box": {
     "id": "obj-model",
     "maxclass": "umenu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      120.0,
      220.0,
      160.0,
      22.0
     ],
     "outlettype": [
      "int",
      "",
      ""
     ],
     "presentation": 1,
     "presentation_rect": [
      318.0,
      44.0,
      160.0,
      22.0
     ],
     "items": [
      "engine",
      "default"
     ]
    }
   },
   {
    "box": {
     "id": "obj-modelmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      250.0,
      90.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend model"
    }
   },
   {
    "box": {
     "id": "obj-seed",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      280.0,
      70.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      372.0,
      24.0,
      76.0,
      15.0
     ],
     "varname": "Seed",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Seed",
       "parameter_shortname": "Seed",
       "parameter_type": 1,
       "parameter_mmin": 0,
       "parameter_mmax": 2147483647,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1,
       "parameter_invisible": 2
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-seedmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      310.0,
      80.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend seed"
    }
   },
   {
    "box": {
     "id": "obj-lock",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      120.0,
      280.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Lock seed",
     "presentation": 1,
     "presentation_rect": [
      318.0,
      70.0,
      60.0,
      18.0
     ],
     "texton": "Seed locked",
     "mode": 1,
     "varname": "Lock seed",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Lock seed",
       "parameter_shortname": "Lock",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ]
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-lockmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      310.0,
      100.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend lockseed"
    }
   },
   {
    "box": {
     "id": "obj-generate",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      20.0,
      350.0,
      80.0,
      20.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Generate",
     "presentation": 1,
     "presentation_rect": [
      318.0,
      96.0,
      76.0,
      22.0
     ],
     "mode": 0,
     "varname": "Generate",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Generate",
       "parameter_shortname": "Generate",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_invisible": 2
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-gentrig",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      20.0,
      380.0,
      80.0,
      22.0
     ],
     "outlettype": [
      "generate",
      "bang",
      "bang"
     ],
     "text": "t generate b b"
    }
   },
   {
    "box": {
     "id": "obj-cancel",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      120.0,
      350.0,
      80.0,
      20.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Cancel",
     "presentation": 1,
     "presentation_rect": [
      400.0,
      96.0,
      76.0,
      22.0
     ],
     "mode": 0,
     "varname": "Cancel",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Cancel",
       "parameter_shortname": "Cancel",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_invisible": 2
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-canceltrig",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      120.0,
      380.0,
      60.0,
      22.0
     ],
     "outlettype": [
      "cancel"
     ],
     "text": "t cancel"
    }
   },
   {
    "box": {
     "id": "obj-lbl-bars",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      80.0,
      220.0,
      40.0,
      20.0
     ],
     "text": "Bars",
     "presentation": 1,
     "presentation_rect": [
      318.0,
      8.0,
      44.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-lbl-seed",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      100.0,
      280.0,
      40.0,
      20.0
     ],
     "text": "Seed",
     "presentation": 1,
     "presentation_rect": [
      372.0,
      8.0,
      44.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-lbl-engine",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      500.0,
      620.0,
      50.0,
      20.0
     ],
     "text": "Engine",
     "presentation": 1,
     "presentation_rect": [
      410.0,
      8.0,
      48.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-lbl-prompt",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      20.0,
      120.0,
      500.0,
      20.0
     ],
     "text": "Prompt: type, then Generate, or Continue the selected audio clip. Takes land on new audio tracks under the selected clip.",
     "presentation": 1,
     "presentation_rect": [
      8.0,
      62.0,
      300.0,
      46.0
     ],
     "linecount": 3
    }
   },
   {
    "box": {
     "id": "obj-lbl-melody",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      700.0,
      150.0,
      50.0,
      20.0
     ],
     "text": "Melody",
     "presentation": 1,
     "presentation_rect": [
      488.0,
      6.0,
      46.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-melody",
     "maxclass": "live.menu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      700.0,
      175.0,
      130.0,
      15.0
     ],
     "outlettype": [
      "",
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      536.0,
      8.0,
      152.0,
      15.0
     ],
     "varname": "Melody",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Melody",
       "parameter_shortname": "Melody",
       "parameter_type": 2,
       "parameter_enum": [
        "Off",
        "Selected MIDI clip",
        "Selected audio clip"
       ],
       "parameter_mmax": 2,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-melodymsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      700.0,
      200.0,
      95.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend melody"
    }
   },
   {
    "box": {
     "id": "obj-lbl-key",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      850.0,
      150.0,
      40.0,
      20.0
     ],
     "text": "Key",
     "presentation": 1,
     "presentation_rect": [
      488.0,
      26.0,
      46.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-key",
     "maxclass": "live.menu",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      850.0,
      175.0,
      90.0,
      15.0
     ],
     "outlettype": [
      "",
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      536.0,
      28.0,
      80.0,
      15.0
     ],
     "varname": "Key",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Key",
       "parameter_shortname": "Key",
       "parameter_type": 2,
       "parameter_enum": [
        "No key",
        "C major",
        "C minor",
        "C# major",
        "C# minor",
        "D major",
        "D minor",
        "Eb major",
        "Eb minor",
        "E major",
        "E minor",
        "F major",
        "F minor",
        "F# major",
        "F# minor",
        "G major",
        "G minor",
        "Ab major",
        "Ab minor",
        "A major",
        "A minor",
        "Bb major",
        "Bb minor",
        "B major",
        "B minor"
       ],
       "parameter_mmax": 24,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-keymsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      850.0,
      200.0,
      75.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend key"
    }
   },
   {
    "box": {
     "id": "obj-loop",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      960.0,
      175.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Loop",
     "presentation": 1,
     "presentation_rect": [
      622.0,
      28.0,
      66.0,
      15.0
     ],
     "mode": 1,
     "varname": "Loop",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Loop",
       "parameter_shortname": "Loop",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ]
      }
     },
     "texton": "Loop on"
    }
   },
   {
    "box": {
     "id": "obj-loopmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      960.0,
      200.0,
      80.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend loop"
    }
   },
   {
    "box": {
     "id": "obj-lbl-variations",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      700.0,
      240.0,
      45.0,
      20.0
     ],
     "text": "Takes",
     "presentation": 1,
     "presentation_rect": [
      488.0,
      46.0,
      46.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-variations",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      700.0,
      265.0,
      44.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      536.0,
      48.0,
      36.0,
      15.0
     ],
     "varname": "Variations",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Variations",
       "parameter_shortname": "Takes",
       "parameter_type": 1,
       "parameter_mmin": 1,
       "parameter_mmax": 4,
       "parameter_initial": [
        1
       ],
       "parameter_initial_enable": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-variationsmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      700.0,
      290.0,
      110.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend variations"
    }
   },
   {
    "box": {
     "id": "obj-lbl-promptsecs",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      850.0,
      240.0,
      60.0,
      20.0
     ],
     "text": "Prompt s",
     "presentation": 1,
     "presentation_rect": [
      580.0,
      46.0,
      56.0,
      18.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-promptsecs",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      850.0,
      265.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      636.0,
      48.0,
      52.0,
      15.0
     ],
     "varname": "Prompt seconds",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Prompt seconds",
       "parameter_shortname": "Prompt s",
       "parameter_type": 0,
       "parameter_mmin": 0.5,
       "parameter_mmax": 29.0,
       "parameter_initial": [
        10.0
       ],
       "parameter_initial_enable": 1,
       "parameter_unitstyle": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-promptsecsmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      850.0,
      290.0,
      130.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend promptseconds"
    }
   },
   {
    "box": {
     "id": "obj-continue",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      220.0,
      350.0,
      80.0,
      20.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Continue",
     "presentation": 1,
     "presentation_rect": [
      488.0,
      96.0,
      100.0,
      22.0
     ],
     "mode": 0,
     "varname": "Continue",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Continue",
       "parameter_shortname": "Continue",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_invisible": 2
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-conttrig",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      220.0,
      380.0,
      110.0,
      22.0
     ],
     "outlettype": [
      "continueclip",
      "bang",
      "bang"
     ],
     "text": "t continueclip b b"
    }
   },
   {
    "box": {
     "id": "obj-lbl-continue",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      700.0,
      330.0,
      230.0,
      20.0
     ],
     "text": "extends the selected audio clip",
     "presentation": 1,
     "presentation_rect": [
      592.0,
      92.0,
      96.0,
      30.0
     ]
    }
   },
   {
    "box": {
     "id": "obj-srbang",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      700.0,
      400.0,
      60.0,
      22.0
     ],
     "outlettype": [
      "bang"
     ],
     "text": "loadbang"
    }
   },
   {
    "box": {
     "id": "obj-dspstate",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 4,
     "patching_rect": [
      700.0,
      430.0,
      80.0,
      22.0
     ],
     "outlettype": [
      "int",
      "float",
      "int",
      "int"
     ],
     "text": "dspstate~"
    }
   },
   {
    "box": {
     "id": "obj-srmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      760.0,
      460.0,
      110.0,
      22.0
     ],
     "outlettype": [
      ""
     ],
     "text": "prepend samplerate"
    }
   },
   {
    "box": {
     "id": "obj-promptmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      20.0,
      215.0,
      95.0,
      22.0
     ],
     "text": "prepend prompt"
    }
   },
   {
    "box": {
     "id": "obj-lbl-loudness",
     "maxclass": "comment",
     "numinlets": 1,
     "numoutlets": 0,
     "patching_rect": [
      850.0,
      250.0,
      60.0,
      20.0
     ],
     "presentation": 1,
     "presentation_rect": [
      488.0,
      66.0,
      56.0,
      18.0
     ],
     "text": "Loudness"
    }
   },
   {
    "box": {
     "id": "obj-loudness",
     "maxclass": "live.menu",
     "numinlets": 1,
     "numoutlets": 3,
     "outlettype": [
      "",
      "",
      "float"
     ],
     "parameter_enable": 1,
     "patching_rect": [
      850.0,
      275.0,
      90.0,
      15.0
     ],
     "presentation": 1,
     "presentation_rect": [
      546.0,
      68.0,
      90.0,
      15.0
     ],
     "varname": "Loudness",
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Loudness",
       "parameter_shortname": "Loudness",
       "parameter_type": 2,
       "parameter_enum": [
        "Off",
        "-14 LUFS",
        "-23 LUFS"
       ],
       "parameter_mmax": 2,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1,
       "parameter_invisible": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-loudnessmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "outlettype": [
      ""
     ],
     "patching_rect": [
      850.0,
      300.0,
      105.0,
      22.0
     ],
     "text": "prepend loudness"
    }
   },
   {
    "box": {
     "id": "obj-preview",
     "maxclass": "live.text",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      1100.0,
      175.0,
      120.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "text": "Hear while it renders",
     "texton": "Hearing while it renders",
     "presentation": 1,
     "presentation_rect": [
      382.0,
      70.0,
      96.0,
      18.0
     ],
     "mode": 1,
     "varname": "Hear while it renders",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Hear while it renders",
       "parameter_shortname": "Hear",
       "parameter_type": 2,
       "parameter_enum": [
        "off",
        "on"
       ],
       "parameter_mmax": 1,
       "parameter_initial": [
        0
       ],
       "parameter_initial_enable": 1,
       "parameter_invisible": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-previewmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      1100.0,
      200.0,
      100.0,
      22.0
     ],
     "text": "prepend preview",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "obj-previewlevel",
     "maxclass": "live.numbox",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      1240.0,
      175.0,
      50.0,
      15.0
     ],
     "outlettype": [
      "",
      "float"
     ],
     "presentation": 1,
     "presentation_rect": [
      640.0,
      68.0,
      48.0,
      15.0
     ],
     "varname": "Preview level",
     "parameter_enable": 1,
     "saved_attribute_attributes": {
      "valueof": {
       "parameter_longname": "Preview level",
       "parameter_shortname": "Preview",
       "parameter_type": 0,
       "parameter_mmin": -70.0,
       "parameter_mmax": 0.0,
       "parameter_initial": [
        -6.0
       ],
       "parameter_initial_enable": 1,
       "parameter_unitstyle": 4,
       "parameter_invisible": 1
      }
     }
    }
   },
   {
    "box": {
     "id": "obj-previewlevelmsg",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 1,
     "patching_rect": [
      1240.0,
      200.0,
      120.0,
      22.0
     ],
     "text": "prepend previewlevel",
     "outlettype": [
      ""
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvroute",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 7,
     "patching_rect": [
      300.0,
      560.0,
      260.0,
      22.0
     ],
     "text": "route bufa bufb mono pos xfade gain",
     "outlettype": [
      "",
      "",
      "",
      "",
      "",
      "",
      ""
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvbufa",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      300.0,
      600.0,
      110.0,
      22.0
     ],
     "text": "buffer~ ---mgpvA",
     "outlettype": [
      "float",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvbufb",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 2,
     "patching_rect": [
      420.0,
      600.0,
      110.0,
      22.0
     ],
     "text": "buffer~ ---mgpvB",
     "outlettype": [
      "float",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvpos",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      100.0,
      600.0,
      40.0,
      22.0
     ],
     "text": "line~",
     "outlettype": [
      "signal",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvplaya",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      100.0,
      640.0,
      110.0,
      22.0
     ],
     "text": "play~ ---mgpvA 2",
     "outlettype": [
      "signal",
      "signal",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvplayb",
     "maxclass": "newobj",
     "numinlets": 1,
     "numoutlets": 3,
     "patching_rect": [
      220.0,
      640.0,
      110.0,
      22.0
     ],
     "text": "play~ ---mgpvB 2",
     "outlettype": [
      "signal",
      "signal",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvxf",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      560.0,
      600.0,
      40.0,
      22.0
     ],
     "text": "line~",
     "outlettype": [
      "signal",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvxfinv",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      560.0,
      630.0,
      40.0,
      22.0
     ],
     "text": "!-~ 1",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pval",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      100.0,
      680.0,
      40.0,
      22.0
     ],
     "text": "*~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvar",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      150.0,
      680.0,
      40.0,
      22.0
     ],
     "text": "*~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvbl",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      220.0,
      680.0,
      40.0,
      22.0
     ],
     "text": "*~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvbr",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      270.0,
      680.0,
      40.0,
      22.0
     ],
     "text": "*~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvmixl",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      100.0,
      710.0,
      40.0,
      22.0
     ],
     "text": "+~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvmixr",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      220.0,
      710.0,
      40.0,
      22.0
     ],
     "text": "+~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvmono",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      160.0,
      740.0,
      40.0,
      22.0
     ],
     "text": "*~ 0",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvmixr2",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      220.0,
      770.0,
      40.0,
      22.0
     ],
     "text": "+~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvgain",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 2,
     "patching_rect": [
      640.0,
      600.0,
      40.0,
      22.0
     ],
     "text": "line~",
     "outlettype": [
      "signal",
      "bang"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvgainl",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      100.0,
      800.0,
      40.0,
      22.0
     ],
     "text": "*~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvgainr",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      220.0,
      800.0,
      40.0,
      22.0
     ],
     "text": "*~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvoutl",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      20.0,
      840.0,
      40.0,
      22.0
     ],
     "text": "+~",
     "outlettype": [
      "signal"
     ]
    }
   },
   {
    "box": {
     "id": "obj-pvoutr",
     "maxclass": "newobj",
     "numinlets": 2,
     "numoutlets": 1,
     "patching_rect": [
      80.0,
      840.0,
      40.0,
      22.0
     ],
     "text": "+~",
     "outlettype": [
      "signal"
     ]
    }
   }
  ],
  "lines": [
   {
    "patchline": {
     "source": [
      "obj-thisdevice",
      0
     ],
     "destination": [
      "obj-initdefer",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-initdefer",
      0
     ],
     "destination": [
      "obj-initmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-initmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-js",
      0
     ],
     "destination": [
      "obj-udpsend",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-udpreceive",
      0
     ],
     "destination": [
      "obj-replydefer",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-replydefer",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-js",
      2
     ],
     "destination": [
      "obj-mkdir",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-mkdir",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-js",
      1
     ],
     "destination": [
      "obj-route",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      0
     ],
     "destination": [
      "obj-statusset",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-statusset",
      0
     ],
     "destination": [
      "obj-status",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      1
     ],
     "destination": [
      "obj-progressset",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-progressset",
      0
     ],
     "destination": [
      "obj-progress",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      2
     ],
     "destination": [
      "obj-led",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      5
     ],
     "destination": [
      "obj-portmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-portmsg",
      0
     ],
     "destination": [
      "obj-udpreceive",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-bars",
      0
     ],
     "destination": [
      "obj-barsmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-barsmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-model",
      0
     ],
     "destination": [
      "obj-modelmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-modelmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      3
     ],
     "destination": [
      "obj-model",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-seed",
      0
     ],
     "destination": [
      "obj-seedmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-seedmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-route",
      4
     ],
     "destination": [
      "obj-seedset",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-seedset",
      0
     ],
     "destination": [
      "obj-seed",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-lock",
      0
     ],
     "destination": [
      "obj-lockmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-lockmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-generate",
      0
     ],
     "destination": [
      "obj-gentrig",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-gentrig",
      1
     ],
     "destination": [
      "obj-prompt",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-gentrig",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-cancel",
      0
     ],
     "destination": [
      "obj-canceltrig",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-canceltrig",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-melody",
      0
     ],
     "destination": [
      "obj-melodymsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-melodymsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-key",
      0
     ],
     "destination": [
      "obj-keymsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-keymsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-loop",
      0
     ],
     "destination": [
      "obj-loopmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-loopmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-variations",
      0
     ],
     "destination": [
      "obj-variationsmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-variationsmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-promptsecs",
      0
     ],
     "destination": [
      "obj-promptsecsmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-promptsecsmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-continue",
      0
     ],
     "destination": [
      "obj-conttrig",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-conttrig",
      2
     ],
     "destination": [
      "obj-dspstate",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-conttrig",
      1
     ],
     "destination": [
      "obj-prompt",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-conttrig",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-gentrig",
      2
     ],
     "destination": [
      "obj-dspstate",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-srbang",
      0
     ],
     "destination": [
      "obj-dspstate",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-dspstate",
      1
     ],
     "destination": [
      "obj-srmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-srmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-promptmsg",
      0
     ],
     "source": [
      "obj-prompt",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-js",
      0
     ],
     "source": [
      "obj-promptmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-loudnessmsg",
      0
     ],
     "source": [
      "obj-loudness",
      0
     ]
    }
   },
   {
    "patchline": {
     "destination": [
      "obj-js",
      0
     ],
     "source": [
      "obj-loudnessmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-preview",
      0
     ],
     "destination": [
      "obj-previewmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-previewmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-previewlevel",
      0
     ],
     "destination": [
      "obj-previewlevelmsg",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-previewlevelmsg",
      0
     ],
     "destination": [
      "obj-js",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-js",
      3
     ],
     "destination": [
      "obj-pvroute",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvroute",
      0
     ],
     "destination": [
      "obj-pvbufa",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvroute",
      1
     ],
     "destination": [
      "obj-pvbufb",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvroute",
      3
     ],
     "destination": [
      "obj-pvpos",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvpos",
      0
     ],
     "destination": [
      "obj-pvplaya",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvpos",
      0
     ],
     "destination": [
      "obj-pvplayb",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvroute",
      4
     ],
     "destination": [
      "obj-pvxf",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvxf",
      0
     ],
     "destination": [
      "obj-pvxfinv",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvplaya",
      0
     ],
     "destination": [
      "obj-pval",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvxfinv",
      0
     ],
     "destination": [
      "obj-pval",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvplaya",
      1
     ],
     "destination": [
      "obj-pvar",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvxfinv",
      0
     ],
     "destination": [
      "obj-pvar",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvplayb",
      0
     ],
     "destination": [
      "obj-pvbl",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvxf",
      0
     ],
     "destination": [
      "obj-pvbl",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvplayb",
      1
     ],
     "destination": [
      "obj-pvbr",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvxf",
      0
     ],
     "destination": [
      "obj-pvbr",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pval",
      0
     ],
     "destination": [
      "obj-pvmixl",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvbl",
      0
     ],
     "destination": [
      "obj-pvmixl",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvar",
      0
     ],
     "destination": [
      "obj-pvmixr",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvbr",
      0
     ],
     "destination": [
      "obj-pvmixr",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvmixl",
      0
     ],
     "destination": [
      "obj-pvmono",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvroute",
      2
     ],
     "destination": [
      "obj-pvmono",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvmixr",
      0
     ],
     "destination": [
      "obj-pvmixr2",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvmono",
      0
     ],
     "destination": [
      "obj-pvmixr2",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvroute",
      5
     ],
     "destination": [
      "obj-pvgain",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvmixl",
      0
     ],
     "destination": [
      "obj-pvgainl",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvgain",
      0
     ],
     "destination": [
      "obj-pvgainl",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvmixr2",
      0
     ],
     "destination": [
      "obj-pvgainr",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvgain",
      0
     ],
     "destination": [
      "obj-pvgainr",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-plugin",
      0
     ],
     "destination": [
      "obj-pvoutl",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvgainl",
      0
     ],
     "destination": [
      "obj-pvoutl",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-plugin",
      1
     ],
     "destination": [
      "obj-pvoutr",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvgainr",
      0
     ],
     "destination": [
      "obj-pvoutr",
      1
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvoutl",
      0
     ],
     "destination": [
      "obj-plugout",
      0
     ]
    }
   },
   {
    "patchline": {
     "source": [
      "obj-pvoutr",
      0
     ],
     "destination": [
      "obj-plugout",
      1
     ]
    }
   }
  ],
  "dependency_cache": [
   {
    "name": "musicgen_bridge.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_menu.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_mkdir.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_files.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_live.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_place.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_text.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_preview.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_handlers.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_take.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_request.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_engine.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   },
   {
    "name": "musicgen_ui.js",
    "patcherrelativepath": ".",
    "type": "TEXT",
    "implicit": 1
   }
  ],
  "latency": 0,
  "autosave": 0
 }
}
